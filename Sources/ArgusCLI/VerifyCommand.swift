import ArgumentParser
import ArgusFace
import ArgusMatching
import Foundation

/// The default decision thresholds (cosine on templates), calibrated in the README.
enum Thresholds {
    /// 1:1: same person when cosine ≥ this.
    static let verification: Float = MatchThresholds.verification
}

extension Argus {
    /// `argus verify A B`: the same person or not.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "1:1 verification of the faces in two photos.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var pipelineOptions: PipelineOptions
        @Argument(help: "First photo.") var a: String
        @Argument(help: "Second photo.") var b: String
        @Option(help: "Cosine threshold (default: the calibrated one).") var threshold: Float?
        @Option(help: "Which face to take from each photo: single (exactly one) or largest.") var policy: String = "largest"
        @Flag var json = false

        struct Result: Encodable {
            let score: Float
            let threshold: Float
            let match: Bool
        }

        func run() throws {
            guard let policy = FacePipeline.EnrollmentPolicy(rawValue: policy) else { throw ValidationError("--policy: single or largest") }
            let pipeline = try loadPipeline(global, upsample: nil)
            var templates: [[Float]] = []
            for path in [a, b] {
                do {
                    let image = try ImageDecoderFacade.decode(path)
                    let face = try pipeline.enrollmentFace(image, policy: policy)
                    templates.append(face.template ?? [])
                } catch {
                    printError("\(path): \(error)")
                    throw ExitCode.failure
                }
            }
            let score = try Gallery.verify(templates[0], templates[1])
            let t = threshold ?? Thresholds.verification
            if json {
                try JSONLine.print(Result(score: score, threshold: t, match: score >= t))
            } else {
                print(String(format: "score %.4f, threshold %.4f: %@", score, t, score >= t ? "same person" : "different people"))
            }
        }
    }
}

import ArgusImaging

/// Decoding with the pipeline's error type.
enum ImageDecoderFacade {
    static func decode(_ path: String) throws(FaceAnalysisError) -> RGBImage {
        do { return try ImageDecoder().decode(fileAt: path) } catch { throw .image(error) }
    }
}

extension Thresholds {
    /// 1:N: a candidate is a match when its score ≥ this, for a gallery of `n` templates.
    /// Larger galleries need higher thresholds to hold the false-positive identification rate.
    static func identification(gallerySize n: Int) -> Float {
        MatchThresholds.identification(gallerySize: n)
    }
}
