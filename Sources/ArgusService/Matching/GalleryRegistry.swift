import ArgusMatching
public import Foundation
import Synchronization

/// The in-memory galleries: one per (tenant, mode, gallery name), loaded from the store at start
/// and kept in step with every enrolment and deletion. Gallery ids are face ids; the registry also
/// keeps face → subject and subject → faces, so 1:N answers with subjects.
final class GalleryRegistry: Sendable {
    struct Key: Hashable, Sendable {
        let tenant: String
        let mode: Mode
        let gallery: String
    }

    private struct Maps {
        var galleries: [Key: Gallery] = [:]
        var subjectOfFace: [String: String] = [:]
        var facesOfSubject: [String: Set<String>] = [:]
    }

    private let maps = Mutex(Maps())
    let dimension: Int

    init(dimension: Int) {
        self.dimension = dimension
    }

    /// The gallery for `key` if it exists: searches never create one.
    func existing(_ key: Key) -> Gallery? { maps.withLock { $0.galleries[key] } }

    func existingGalleries(tenant: String, mode: Mode) -> [Gallery] {
        maps.withLock { m in m.galleries.filter { $0.key.tenant == tenant && $0.key.mode == mode }.sorted { $0.key.gallery < $1.key.gallery }.map(\.value) }
    }

    /// Names and sizes of a tenant's galleries in one mode.
    func names(tenant: String, mode: Mode) -> [(name: String, faces: Int)] {
        maps.withLock { m in
            m.galleries.filter { $0.key.tenant == tenant && $0.key.mode == mode }.map { ($0.key.gallery, $0.value.count) }.sorted { $0.name < $1.name }
        }
    }

    /// Adds an enrolled face; its gallery is created with its first face.
    func add(face: String, subject: String, template: [Float], key: Key) throws {
        let gallery = maps.withLock { m -> Gallery in
            if let g = m.galleries[key] { return g }
            let g = Gallery(dimension: dimension)
            m.galleries[key] = g
            return g
        }
        try gallery.add(id: face, template: template)
        maps.withLock { m in
            m.subjectOfFace[face] = subject
            m.facesOfSubject[subject, default: []].insert(face)
        }
    }

    func remove(faces: [String], tenant: String, mode: Mode) {
        for g in existingGalleries(tenant: tenant, mode: mode) {
            for face in faces { g.remove(id: face) }
        }
        maps.withLock { m in
            for face in faces {
                guard let subject = m.subjectOfFace.removeValue(forKey: face) else { continue }
                m.facesOfSubject[subject]?.remove(face)
                if m.facesOfSubject[subject]?.isEmpty == true { m.facesOfSubject[subject] = nil }
            }
        }
    }

    func subject(ofFace face: String) -> String? { maps.withLock { $0.subjectOfFace[face] } }

    var totalTemplates: Int { maps.withLock { $0.galleries.values.reduce(0) { $0 + $1.count } } }

    func templates(tenant: String, mode: Mode) -> Int { existingGalleries(tenant: tenant, mode: mode).reduce(0) { $0 + $1.count } }

    /// The one subject search: subjects ranked by their best face's score over `galleries`, ties by
    /// subject id. With `among`, exactly those subjects are searched (all their faces, however low
    /// they rank); `excluding` drops one subject (dedup). At most `limit` subjects, each ≥ `minScore`.
    func searchSubjects(_ probe: [Float], in galleries: [Gallery], limit: Int, among: Set<String>? = nil, excluding: String? = nil,
                        minScore: Float = -.infinity) throws -> [(subject: String, score: Float)] {
        guard limit > 0 else { return [] }
        var best: [String: Float] = [:]
        if let among {
            let faces = maps.withLock { m in among.flatMap { m.facesOfSubject[$0] ?? [] } }
            let restricted = Set(faces)
            for g in galleries where !restricted.isEmpty {
                for m in try g.search(probe, k: restricted.count, among: Array(restricted)) where m.score >= minScore {
                    guard let s = subject(ofFace: m.id), s != excluding else { continue }
                    best[s] = max(best[s] ?? -.infinity, m.score)
                }
            }
        } else {
            // Widen the face search until `limit` distinct subjects are certain (or the galleries are exhausted):
            // the best `limit` subjects are among the faces ranked above the k-th face once k faces give `limit` subjects.
            for g in galleries where g.count > 0 {
                var k = min(g.count, max(limit * 4, 16))
                while true {
                    let matches = try g.search(probe, k: k, minScore: minScore)
                    var local: [String: Float] = [:]
                    for m in matches {
                        guard let s = subject(ofFace: m.id), s != excluding else { continue }
                        local[s] = max(local[s] ?? -.infinity, m.score)
                    }
                    if local.count >= limit || matches.count < k || k >= g.count {
                        for (s, v) in local { best[s] = max(best[s] ?? -.infinity, v) }
                        break
                    }
                    k = min(g.count, k * 4)
                }
            }
        }
        var ranked: [(subject: String, score: Float)] = best.map { (subject: $0.key, score: $0.value) }
        ranked.sort { a, b in a.score != b.score ? a.score > b.score : a.subject < b.subject }
        return Array(ranked.prefix(limit))
    }
}
