import ArgumentParser
import ArgusFace
import ArgusImaging
import Foundation

/// `argus bench pipeline IMG…`: photo file → template, end to end.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "Time photo → template (decode, detect, align, embed).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Photos.") var images: [String]
    @Option(help: "Upsampling (default: the pipeline's policy, 1 for photos up to 512 px).") var upsample: Int?
    @Option(help: "Passes over the photos (the median pass is reported).") var repeats: Int = 3
    @Flag var json = false

    struct Result: Encodable {
        let ms_per_photo: Double
        let photos: Int
        let faces: Int
    }

    func run() throws {
        let pipeline = try loadPipeline(global, upsample: upsample)
        var faces = 0
        var samples: [Double] = []
        for pass in 0...max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var found = 0
            for path in images {
                let image = try ImageDecoder().decode(fileAt: path)
                found += try pipeline.analyze(image, embed: true).count
            }
            if pass > 0 { samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(images.count)) }
            faces = found
        }
        samples.sort()
        let ms = samples[samples.count / 2]
        if json {
            try JSONLine.print(Result(ms_per_photo: (ms * 100).rounded() / 100, photos: images.count, faces: faces))
        } else {
            print(String(format: "%.1f ms per photo (%d photos, %d faces)", ms, images.count, faces))
        }
    }
}
