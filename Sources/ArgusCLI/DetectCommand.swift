import ArgumentParser
import ArgusFace
import ArgusImaging
import Foundation

/// Options shared by the commands that run the face pipeline.
struct PipelineOptions: ParsableArguments {
    @Option(help: "Upsampling steps before detection, as dlib's upsample_num_times (default: 0, dlib's default).")
    var upsample: Int = 0
    @Option(help: "Detect on a copy whose longest side is at most this many pixels (landmarks and chips use the full photo).")
    var maxSide: Int = 1600

    func validate() throws {
        guard (0...3).contains(upsample) else { throw ValidationError("--upsample must be 0...3") }
    }
}

extension Argus {
    /// `argus detect IMG…`: boxes, confidences, landmarks and quality.
    struct Detect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find faces: boxes, landmarks, quality.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var pipelineOptions: PipelineOptions
        @Argument(help: "Photos (JPEG or PNG).") var images: [String]
        @Flag(help: "One JSON object per image per line.") var json = false

        func run() throws {
            let pipeline = try loadPipeline(global, upsample: pipelineOptions.upsample, maxSide: pipelineOptions.maxSide)
            let failed = try analyzeFiles(images, pipeline: pipeline, embed: false, json: json)
            if failed > 0 { throw ExitCode.failure }
        }
    }
}

func loadPipeline(_ global: GlobalOptions, upsample: Int?, maxSide: Int? = nil) throws -> FacePipeline {
    var options = FacePipeline.Options(upsample: upsample)
    if let maxSide { options.maxDetectionSide = max(64, maxSide) }
    do {
        return try FacePipeline(models: global.modelDirectory, options: options)
    } catch {
        printError("argus: \(error)")
        throw ExitCode.failure
    }
}

/// Analyses each file and prints one line per image; returns how many could not be read.
func analyzeFiles(_ paths: [String], pipeline: FacePipeline, embed: Bool, json: Bool) throws -> Int {
    var failed = 0
    let decoder = ImageDecoder()
    for path in paths {
        do {
            let image: RGBImage
            do { image = try decoder.decode(fileAt: path) } catch { throw FaceAnalysisError.image(error) }
            let faces = try pipeline.analyze(image, embed: embed)
            if json {
                try JSONLine.print(ImageFacesJSON(path: path, width: image.width, height: image.height,
                                                  faces: faces.map { FaceJSON($0, includeDescriptor: embed) }))
            } else {
                print("\(path): \(image.width)x\(image.height), \(faces.count) face(s)")
                for f in faces {
                    let lm = f.landmarks.map { "(\(Int($0.x)),\(Int($0.y)))" }.joined(separator: " ")
                    let q = f.quality.passes ? "ok" : f.quality.reasons.map(\.rawValue).joined(separator: ",")
                    print(String(format: "  box [%d %d %d %d] confidence %.3f  landmarks %@  quality %@", f.box.left, f.box.top,
                                 f.box.right, f.box.bottom, f.confidence, lm, q))
                }
            }
        } catch let error as FaceAnalysisError {
            failed += 1
            if json { try JSONLine.print(ImageErrorJSON(path: path, error: "\(error)", code: error.code)) } else { printError("\(path): \(error)") }
        }
    }
    return failed
}
