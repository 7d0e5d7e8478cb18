import ArgumentParser
import ArgusEnrollment
import ArgusFace
import ArgusMatching
import ArgusStore
import Foundation

extension Argus {
    /// `argus identify (--gallery FILE | --data-dir DIR) IMG`: 1:N search through the one subject search.
    struct Identify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "1:N identification of the largest face in a photo, against a gallery file or a store.",
            discussion: """
            With --gallery, ids of the form SUBJECT/… are grouped by SUBJECT. With --data-dir, the store of `argus serve` \
            or `argus enroll` is searched directly (read-only; it may be in use). Each candidate is a subject with its best face's score.
            """
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "A gallery file (argus gallery build).") var gallery: String?
        @Option(help: "A store (the data directory of argus serve / argus enroll).") var dataDir: String?
        @Option(help: "The store's mode to search (test or live).") var mode: String = "test"
        @Argument(help: "The probe photo.") var image: String
        @Option(help: "Candidates to list.") var topK: Int = 5
        @Option(help: "Score a candidate must reach to be a match (default: calibrated).") var threshold: Float?
        @Flag var json = false

        struct Candidate: Encodable {
            let subject_id: String
            let external_id: String?
            let score: Float
        }

        struct Result: Encodable {
            let candidates: [Candidate]
            let decision: String
            let threshold: Float
            let gallery_size: Int
        }

        func validate() throws {
            guard (gallery == nil) != (dataDir == nil) else { throw ValidationError("give exactly one of --gallery FILE and --data-dir DIR") }
            guard (1...1000).contains(topK) else { throw ValidationError("--top-k: 1…1000") }
            guard Mode(rawValue: mode) != nil else { throw ValidationError("--mode: test or live") }
        }

        func run() throws {
            let index = SubjectIndex(dimension: FaceEmbedder.dimension)
            do {
                if let gallery {
                    let file = try Gallery.load(from: gallery)
                    for id in file.allIDs {
                        guard let template = file.template(for: id) else { continue }
                        try index.add(face: id, subject: String(id.split(separator: "/", maxSplits: 1).first ?? Substring(id)), template: template)
                    }
                } else if let dataDir {
                    let store = try SQLiteStore(dataDirectory: dataDir, environment: ProcessInfo.processInfo.environment, create: false)
                    let galleries = Galleries(dimension: FaceEmbedder.dimension)
                    let owner = Galleries.Owner(tenant: store.defaultTenantID, mode: Mode(rawValue: mode) ?? .test)
                    try galleries.load(from: store, tenant: owner.tenant, mode: owner.mode)
                    return try search(galleries.index(owner)) { try? store.subject(tenant: owner.tenant, mode: owner.mode, id: $0)?.externalID }
                }
            } catch {
                printError("argus identify: \(error)")
                throw ExitCode.failure
            }
            try search(index) { _ in nil }
        }

        /// Searches and prints; `externalID` names a store's subjects as their owner knows them.
        func search(_ index: SubjectIndex, externalID: (String) -> String?) throws {
            let pipeline = try loadPipeline(global, upsample: nil)
            let probe: (face: FaceRecord, faces: Int)
            do {
                probe = try pipeline.probeFace(try ImageDecoderFacade.decode(image))
            } catch {
                printError("\(image): \(error)")
                throw ExitCode.failure
            }
            let ranked = try index.search(probe.face.template ?? [], limit: topK)
            let t = threshold ?? Thresholds.identification(gallerySize: max(1, index.count))
            let decision = (ranked.first?.score ?? -1) >= t ? "match" : "no_match"
            let candidates = ranked.map { Candidate(subject_id: $0.subject, external_id: externalID($0.subject), score: $0.score) }
            if json {
                try JSONLine.print(Result(candidates: candidates, decision: decision, threshold: t, gallery_size: index.count))
            } else {
                for c in candidates { print(String(format: "%-40@ %.4f", c.external_id.map { "\(c.subject_id) (\($0))" } ?? c.subject_id, c.score)) }
                print("decision: \(decision) (threshold \(t))")
            }
        }
    }
}
