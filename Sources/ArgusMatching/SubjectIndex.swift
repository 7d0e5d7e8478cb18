import Synchronization
private import CArgusKernels

/// One subject and its best face's score.
public struct SubjectMatch: Sendable, Equatable, Hashable {
    public let subject: String
    public let score: Float
    public init(subject: String, score: Float) {
        self.subject = subject
        self.score = score
    }
}

/// The one subject search. Faces live in named partitions (galleries), each a `Gallery` whose ids
/// are face ids; beside those id maps sit face → subject and subject → faces. A subject is ranked
/// by its best face; ties go to the smaller subject id. Thresholds are data the caller passes in.
///
/// Layers, as in FAISS: `TemplateStore` (rows) → `FlatInnerProductIndex` (scores) → `Gallery`
/// (face ids) → `SubjectIndex` (subjects).
public final class SubjectIndex: Sendable {
    private struct Maps {
        var partitions: [String: Gallery] = [:]
        var subjectOfFace: [String: String] = [:]
        var partitionOfFace: [String: String] = [:]
        var facesOfSubject: [String: Set<String>] = [:]
    }

    private let maps = Mutex(Maps())
    public let dimension: Int

    public init(dimension: Int) {
        self.dimension = dimension
    }

    /// Adds a face; its partition is created with its first face.
    /// - Throws: `MatchingError` (wrong dimension, non-finite, zero, duplicate id); nothing changes then.
    public func add(face: String, subject: String, template: [Float], partition: String = "default") throws(MatchingError) {
        try add([(face, subject, template)], partition: partition)
    }

    /// Adds many faces to one partition; all or nothing.
    public func add(_ faces: [(face: String, subject: String, template: [Float])], partition: String = "default") throws(MatchingError) {
        let gallery = maps.withLock { m -> Gallery in
            if let g = m.partitions[partition] { return g }
            let g = Gallery(dimension: dimension)
            m.partitions[partition] = g
            return g
        }
        try gallery.add(faces.map { (id: $0.face, template: $0.template) })
        maps.withLock { m in
            for f in faces {
                m.subjectOfFace[f.face] = f.subject
                m.partitionOfFace[f.face] = partition
                m.facesOfSubject[f.subject, default: []].insert(f.face)
            }
        }
    }

    /// Gives back spare capacity of every partition (after a bulk load).
    public func shrinkToFit() {
        for gallery in maps.withLock({ Array($0.partitions.values) }) { gallery.shrinkToFit() }
    }

    /// Hands memory freed in many small pieces (rows read and opened during a load) back to the system.
    public static func releaseFreedMemory() { _ = argus_release_free_memory() }

    /// Removes faces (unknown ids are ignored).
    public func remove(faces: [String]) {
        let removed = maps.withLock { m -> [(Gallery, String)] in
            var out: [(Gallery, String)] = []
            for face in faces {
                guard let subject = m.subjectOfFace.removeValue(forKey: face) else { continue }
                if let p = m.partitionOfFace.removeValue(forKey: face), let g = m.partitions[p] { out.append((g, face)) }
                m.facesOfSubject[subject]?.remove(face)
                if m.facesOfSubject[subject]?.isEmpty == true { m.facesOfSubject[subject] = nil }
            }
            return out
        }
        for (gallery, face) in removed { gallery.remove(id: face) }
    }

    public func subject(ofFace face: String) -> String? { maps.withLock { $0.subjectOfFace[face] } }

    /// Faces held, over every partition.
    public var count: Int { maps.withLock { $0.subjectOfFace.count } }

    /// Partitions by name, with their face counts.
    public var partitions: [(name: String, faces: Int)] {
        maps.withLock { m in m.partitions.map { ($0.key, $0.value.count) } }.sorted { $0.name < $1.name }
    }

    public func contains(partition: String) -> Bool { maps.withLock { $0.partitions[partition] != nil } }

    /// Faces in the named partitions (all when nil).
    public func count(in partitions: [String]?) -> Int {
        guard let partitions else { return count }
        return maps.withLock { m in partitions.reduce(0) { $0 + (m.partitions[$1]?.count ?? 0) } }
    }

    /// Subjects ranked by their best face's score, best first, ties by subject id.
    ///
    /// - Parameters:
    ///   - partitions: where to search (nil: everywhere).
    ///   - limit: at most this many subjects.
    ///   - among: exactly these subjects — every face of each is scored, however low it would
    ///     rank in the whole gallery.
    ///   - excluding: a subject left out (dedup against everyone else).
    ///   - minScore: subjects whose best face scores below it are left out.
    public func search(_ probe: [Float], limit: Int, in partitions: [String]? = nil, among: Set<String>? = nil,
                       excluding: String? = nil, minScore: Float = -.infinity) throws(MatchingError) -> [SubjectMatch] {
        guard limit > 0 else { return [] }
        let galleries = maps.withLock { m in
            (partitions.map { $0.compactMap { m.partitions[$0] } } ?? Array(m.partitions.values)).filter { $0.count > 0 }
        }
        var best: [String: Float] = [:]
        func keep(_ matches: [Match], into scores: inout [String: Float]) {
            let owners = maps.withLock { m in matches.map { m.subjectOfFace[$0.id] } }
            for (m, owner) in zip(matches, owners) {
                guard let s = owner, s != excluding else { continue }
                scores[s] = max(scores[s] ?? -.infinity, m.score)
            }
        }
        if let among {
            let faces = maps.withLock { m in among.flatMap { m.facesOfSubject[$0] ?? [] } }
            if !faces.isEmpty {
                for g in galleries { keep(try g.search(probe, k: faces.count, among: faces, minScore: minScore), into: &best) }
            }
        } else {
            // Widen each partition's face search until `limit` distinct subjects are certain (or
            // the partition is exhausted): once k faces hold `limit` subjects, no face below the
            // k-th can change the best `limit`.
            for g in galleries {
                var k = min(g.count, max(limit * 4, 16))
                while true {
                    let matches = try g.search(probe, k: k, minScore: minScore)
                    var local: [String: Float] = [:]
                    keep(matches, into: &local)
                    if local.count >= limit || matches.count < k || k >= g.count {
                        for (s, v) in local { best[s] = max(best[s] ?? -.infinity, v) }
                        break
                    }
                    k = min(g.count, k * 4)
                }
            }
        }
        var ranked = best.map { SubjectMatch(subject: $0.key, score: $0.value) }
        ranked.sort { a, b in a.score != b.score ? a.score > b.score : a.subject < b.subject }
        return Array(ranked.prefix(limit))
    }

    /// The best score of one subject's faces, nil when it has none here (1:1 against a subject).
    public func score(_ probe: [Float], subject: String, in partitions: [String]? = nil) throws(MatchingError) -> Float? {
        try search(probe, limit: 1, in: partitions, among: [subject]).first?.score
    }
}
