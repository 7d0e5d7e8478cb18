import ArgumentParser
import ArgusFace
import ArgusImaging
import Foundation

/// `argus bench detect IMG`: the whole detector call (pyramid, network, decoding, NMS).
struct BenchDetect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect", abstract: "Time the face detector on one photo.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The photo (JPEG or PNG).") var image: String
    @Option(help: "Upsampling steps, as dlib's upsample_num_times.") var upsample: Int = 0
    @Option(help: "Timed calls (the median is reported).") var repeats: Int = 7
    @Option(help: "Resize the photo to WxH first (e.g. 640x480).") var resize: String?
    @Flag(help: "Print one JSON object.") var json = false

    struct Result: Encodable {
        let ms_per_call: Double
        let width: Int
        let height: Int
        let upsample: Int
        let faces: Int
    }

    func run() throws {
        let detector = try FaceDetector(models: global.modelDirectory)
        var photo = try ImageDecoder().decode(fileAt: image)
        if let resize {
            let parts = resize.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--resize takes WxH") }
            photo = DlibResize.resize(photo, width: parts[0], height: parts[1])
        }
        var faces = try detector.detect(photo, upsample: upsample).count  // warm-up
        var samples: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            faces = try detector.detect(photo, upsample: upsample).count
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        samples.sort()
        let ms = samples[samples.count / 2]
        if json {
            try JSONLine.print(Result(ms_per_call: (ms * 100).rounded() / 100, width: photo.width, height: photo.height,
                                      upsample: upsample, faces: faces))
        } else {
            print(String(format: "%dx%d upsample %d: %.1f ms per call, %d face(s)", photo.width, photo.height, upsample, ms, faces))
        }
    }
}
