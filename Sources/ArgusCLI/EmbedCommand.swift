import ArgumentParser
import ArgusFace
import ArgusImaging
import Foundation

extension Argus {
    /// `argus embed --chip PNG…`: descriptors of aligned 150×150 chips.
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute face descriptors (dlib ResNet, 128-d).",
            discussion: "Photos are analysed (detect, landmarks, align, embed); with --chip, each file is an aligned 150x150 chip."
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var pipelineOptions: PipelineOptions
        @Argument(help: "Photos (JPEG or PNG).") var images: [String] = []
        @Option(name: .customLong("chip"), parsing: .upToNextOption, help: "Aligned 150x150 chips.") var chips: [String] = []
        @Flag(help: "One JSON object per input per line.") var json = false

        func validate() throws {
            guard !chips.isEmpty || !images.isEmpty else { throw ValidationError("give photos, or --chip FILE…") }
        }

        struct ChipResult: Encodable {
            let path: String
            let descriptor: [Float]
            let template: [Float]
        }

        struct Failure: Encodable {
            let path: String
            let error: String
        }

        func run() throws {
            if !images.isEmpty {
                let pipeline = try loadPipeline(global, upsample: pipelineOptions.upsample, maxSide: pipelineOptions.maxSide)
                let failed = try analyzeFiles(images, pipeline: pipeline, embed: true, json: json)
                if chips.isEmpty {
                    if failed > 0 { throw ExitCode.failure }
                    return
                }
            }
            let embedder: FaceEmbedder
            do {
                embedder = try FaceEmbedder(models: global.modelDirectory)
            } catch {
                printError("argus: \(error)")
                throw ExitCode.failure
            }
            let decoder = ImageDecoder()
            var failures = 0
            // Decode everything first so the network runs in batches.
            var loaded: [(path: String, chip: RGBImage)] = []
            for path in chips {
                do {
                    let chip = try decoder.decode(fileAt: path)
                    guard chip.width == FaceEmbedder.chipSize, chip.height == FaceEmbedder.chipSize else {
                        throw FaceAnalysisError.wrongChipSize(width: chip.width, height: chip.height)
                    }
                    loaded.append((path, chip))
                } catch {
                    failures += 1
                    if json { try JSONLine.print(Failure(path: path, error: "\(error)")) } else { printError("\(path): \(error)") }
                }
            }
            let batchSize = 32
            for start in stride(from: 0, to: loaded.count, by: batchSize) {
                let part = Array(loaded[start..<min(start + batchSize, loaded.count)])
                let descriptors = try embedder.descriptors(for: part.map(\.chip))
                for (item, d) in zip(part, descriptors) {
                    if json {
                        try JSONLine.print(ChipResult(path: item.path, descriptor: d, template: FaceEmbedder.template(from: d)))
                    } else {
                        print("\(item.path): " + d.prefix(4).map { String(format: "%.5f", $0) }.joined(separator: " ") + " …")
                    }
                }
            }
            if failures > 0 { throw ExitCode.failure }
        }
    }
}
