import ArgumentParser
import ArgusFace
import ArgusMatching
import Foundation

extension Argus {
    /// `argus identify --gallery FILE IMG`: 1:N search.
    struct Identify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "1:N identification of the face in a photo against a gallery file.",
            discussion: "Gallery ids of the form SUBJECT/… are grouped by SUBJECT; each candidate is a subject with its best score."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "A gallery file (argus gallery build).") var gallery: String
        @Argument(help: "The probe photo.") var image: String
        @Option(help: "Candidates to list.") var topK: Int = 5
        @Option(help: "Score a candidate must reach to be a match (default: calibrated).") var threshold: Float?
        @Flag var json = false

        struct Candidate: Encodable {
            let subject_id: String
            let score: Float
        }

        struct Result: Encodable {
            let candidates: [Candidate]
            let decision: String
            let threshold: Float
        }

        func run() throws {
            let store: Gallery
            do { store = try Gallery.load(from: gallery) } catch {
                printError("argus: \(error)")
                throw ExitCode.failure
            }
            let pipeline = try loadPipeline(global, upsample: nil)
            let face: FaceRecord
            do {
                face = try pipeline.enrollmentFace(try ImageDecoderFacade.decode(image), policy: .largest)
            } catch {
                printError("\(image): \(error)")
                throw ExitCode.failure
            }
            let matches = try store.search(face.template ?? [], k: max(1, topK) * 8)
            var best: [String: Float] = [:], order: [String] = []
            for m in matches {
                let subject = String(m.id.split(separator: "/", maxSplits: 1).first ?? Substring(m.id))
                if best[subject] == nil { order.append(subject) }
                best[subject] = max(best[subject] ?? -1, m.score)
            }
            let candidates = order.prefix(max(1, topK)).map { Candidate(subject_id: $0, score: best[$0] ?? -1) }
            let t = threshold ?? Thresholds.identification(gallerySize: store.count)
            let decision = (candidates.first?.score ?? -1) >= t ? "match" : "no_match"
            if json {
                try JSONLine.print(Result(candidates: candidates, decision: decision, threshold: t))
            } else {
                for c in candidates { print(String(format: "%-40@ %.4f", c.subject_id, c.score)) }
                print("decision: \(decision) (threshold \(t))")
            }
        }
    }
}
