import ArgumentParser
import ArgusFace
import ArgusImaging
import ArgusNN
import Foundation

/// `argus bench detect IMG`: the whole detector call (pyramid, network, decoding, NMS).
struct BenchDetect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect", abstract: "Time the face detector on one photo.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The photo (JPEG or PNG).") var image: String
    @Option(help: "Upsampling steps, as dlib's upsample_num_times.") var upsample: Int = 0
    @Option(help: "Timed calls (the median is reported).") var repeats: Int = 7
    @Option(help: "Resize the photo to WxH first (e.g. 640x480).") var resize: String?
    @Option(help: "Cores to use (default: all).") var threads: Int?
    @Flag(help: "Print where a single-threaded pass of the network spends its time, with GFLOP/s per convolution layer.")
    var profile = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard repeats > 0, (threads ?? 1) > 0, upsample >= 0 else { throw ValidationError("values must be positive") }
    }

    struct Result: Encodable {
        let ms_per_call: Double
        /// The network alone on the call's pyramid tensor (as ONNX Runtime's network-only time).
        let network_ms: Double
        let threads: Int
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
        var work = photo
        for _ in 0..<upsample {
            let size = DlibResize.upsampledSize(width: work.width, height: work.height)
            work = DlibResize.resize(work, width: size.width, height: size.height)
        }
        let input = detector.networkInput(work, threads: threads)
        if profile {
            let phases = try detector.network.profile(input.tensor, shape: input.shape, threads: threads ?? 1)
            ProfileTable.print(phases, batch: 1, kernels: detector.network.kernels.rawValue, threads: threads ?? 1)
            return
        }
        let workers = threads ?? BLASThreads.cores
        var faces = try detector.detect(photo, upsample: upsample, threads: workers).count  // warm-up
        var samples: [Double] = [], network: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            faces = try detector.detect(photo, upsample: upsample, threads: workers).count
            let t1 = DispatchTime.now().uptimeNanoseconds
            _ = try detector.network.forward(input.tensor, shape: input.shape, threads: workers)
            let t2 = DispatchTime.now().uptimeNanoseconds
            samples.append(Double(t1 - t0) / 1e6)
            network.append(Double(t2 - t1) / 1e6)
        }
        samples.sort()
        network.sort()
        let ms = samples[samples.count / 2], netMs = network[network.count / 2]
        if json {
            try JSONLine.print(Result(ms_per_call: (ms * 100).rounded() / 100, network_ms: (netMs * 100).rounded() / 100,
                                      threads: workers, width: photo.width, height: photo.height, upsample: upsample, faces: faces))
        } else {
            print(String(format: "%dx%d upsample %d, %d threads: %.1f ms per call (network %.1f ms), %d face(s)", photo.width, photo.height,
                         upsample, workers, ms, netMs, faces))
        }
    }
}
