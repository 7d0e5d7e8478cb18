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
///
/// Memory: ids are `InlineID`s (24 bytes, no heap object); subjects are numbered (ordinals,
/// reused once a subject has no face left) and a face names its subject and partition by number.
/// Per face beyond its rows: the gallery's id map, one face entry, and its subject's entry.
public final class SubjectIndex: Sendable {
    private struct Face {
        var subject: UInt32
        var partition: UInt32
    }

    private struct Maps {
        var partitions: [String: Gallery] = [:]
        var partitionList: [Gallery] = []
        var names = IDNames()
        var faces: [InlineID: Face] = [:]
        var subjectKeys: [InlineID] = []
        var subjectOrdinals: [InlineID: UInt32] = [:]
        var subjectFaces: [[InlineID]] = []
        var freeOrdinals: [UInt32] = []

        /// The named partition and its number; a new one is made, but recorded only by `keep`.
        func partition(_ name: String, dimension: Int) -> (gallery: Gallery, number: UInt32, isNew: Bool) {
            if let g = partitions[name], let n = partitionList.firstIndex(where: { $0 === g }) { return (g, UInt32(n), false) }
            return (Gallery(dimension: dimension), UInt32(partitionList.count), true)
        }

        mutating func keep(_ partition: (gallery: Gallery, number: UInt32, isNew: Bool), named name: String) {
            guard partition.isNew else { return }
            partitions[name] = partition.gallery
            partitionList.append(partition.gallery)
        }

        /// The subject's number, a new one for a new subject (one hash for a new subject).
        mutating func ordinal(of subject: InlineID) -> UInt32 {
            let next = freeOrdinals.last ?? UInt32(subjectKeys.count)
            if let existing = subjectOrdinals.updateValue(next, forKey: subject) {
                subjectOrdinals[subject] = existing
                return existing
            }
            if freeOrdinals.popLast() != nil {
                subjectKeys[Int(next)] = subject
            } else {
                subjectKeys.append(subject)
                subjectFaces.append([])
            }
            return next
        }

        func subjectName(_ ordinal: UInt32) -> String { names.string(subjectKeys[Int(ordinal)]) }
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

    /// Adds many faces to one partition; all or nothing. A face id is unique across partitions.
    public func add(_ faces: [(face: String, subject: String, template: [Float])], partition: String = "default") throws(MatchingError) {
        let rows = try contiguousRows(faces.lazy.map(\.template), dimension: dimension)
        try rows.withUnsafeBufferPointer { (buffer) throws(MatchingError) in
            try add(faces: faces.map(\.face), subjects: faces.map(\.subject), rows: buffer, partition: partition)
        }
    }

    /// Adds faces with their subjects from contiguous rows (row i at `i * dimension`) to one
    /// partition; all or nothing. The one way faces enter the index.
    public func add(faces: some Collection<String>, subjects: some Collection<String>, rows: UnsafeBufferPointer<Float>,
                    partition: String = "default") throws(MatchingError) {
        precondition(faces.count == subjects.count, "a subject per face")
        // Rows are checked before the lock: searches wait on it for their subjects.
        let prepared = try PreparedRows(rows, count: faces.count, dimension: dimension)
        try maps.withLock { (m: inout Maps) throws(MatchingError) in
            for f in faces {
                if let key = m.names.existingKey(f), m.faces[key] != nil { throw .duplicateID(f) }
            }
            // A partition is made with its first face: a refused batch leaves none behind.
            let target = m.partition(partition, dimension: dimension)
            // The gallery refuses ids it holds or the batch repeats before it changes.
            try target.gallery.add(ids: faces, prepared: prepared)
            m.keep(target, named: partition)
            let number = target.number
            for (f, s) in zip(faces, subjects) {
                guard let face = m.names.key(f, inserting: true), let subject = m.names.key(s, inserting: true) else { continue }
                let ordinal = m.ordinal(of: subject)
                m.faces[face] = Face(subject: ordinal, partition: number)
                m.subjectFaces[Int(ordinal)].append(face)
            }
        }
    }

    /// Room for `faces` faces of about as many subjects, most in `partition`, without rehashing
    /// (a bulk load that knows its size).
    public func reserve(faces: Int, subjects: Int, partition: String = "default", partitionFaces: Int) {
        let gallery = maps.withLock { m in
            m.faces.reserveCapacity(faces)
            m.subjectOrdinals.reserveCapacity(subjects)
            m.subjectKeys.reserveCapacity(subjects)
            m.subjectFaces.reserveCapacity(subjects)
            let target = m.partition(partition, dimension: dimension)
            m.keep(target, named: partition)
            return target.gallery
        }
        gallery.reserve(partitionFaces)
    }

    /// Gives back spare capacity of every partition and map (after a bulk load).
    public func shrinkToFit() {
        let galleries = maps.withLock { m -> [Gallery] in
            // Dictionaries are rebuilt only when well over twice their need (a rebuild at the
            // smallest size lands on the same power of two otherwise).
            if m.faces.capacity > 2 * m.faces.count + 64 {
                m.faces = [InlineID: Face](uniqueKeysWithValues: m.faces.lazy.map { ($0.key, $0.value) })
            }
            if m.subjectOrdinals.capacity > 2 * m.subjectOrdinals.count + 64 {
                m.subjectOrdinals = [InlineID: UInt32](uniqueKeysWithValues: m.subjectOrdinals.lazy.map { ($0.key, $0.value) })
            }
            if m.subjectKeys.capacity > m.subjectKeys.count + m.subjectKeys.count / 8 + 64 {
                m.subjectKeys = m.subjectKeys.withUnsafeBufferPointer { Array($0) }
                m.subjectFaces = m.subjectFaces.withUnsafeBufferPointer { Array($0) }
            }
            return m.partitionList
        }
        for gallery in galleries { gallery.shrinkToFit() }
    }

    /// Hands memory freed in many small pieces (rows read and opened during a load) back to the system.
    public static func releaseFreedMemory() { _ = argus_release_free_memory() }

    /// Removes faces (unknown ids are ignored).
    public func remove(faces: [String]) {
        maps.withLock { m in
            for id in faces {
                guard let key = m.names.existingKey(id), let face = m.faces.removeValue(forKey: key) else { continue }
                m.partitionList[Int(face.partition)].remove(id: id)
                let s = Int(face.subject)
                m.subjectFaces[s].removeAll { $0 == key }
                if m.subjectFaces[s].isEmpty {
                    m.subjectOrdinals[m.subjectKeys[s]] = nil
                    m.subjectFaces[s] = []
                    m.freeOrdinals.append(face.subject)
                }
            }
        }
    }

    public func subject(ofFace face: String) -> String? {
        maps.withLock { m in
            guard let key = m.names.existingKey(face), let f = m.faces[key] else { return nil }
            return m.subjectName(f.subject)
        }
    }

    /// Faces held, over every partition.
    public var count: Int { maps.withLock { $0.faces.count } }

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
        // Scores by subject key (stable, unlike ordinals, which are reused); names are made at the end.
        let excluded = excluding.flatMap { e in maps.withLock { m in m.names.existingKey(e) } }
        var best: [InlineID: Float] = [:]
        func keep(_ matches: [Match], into scores: inout [InlineID: Float]) {
            let owners = maps.withLock { m in
                matches.map { match in m.names.existingKey(match.id).flatMap { m.faces[$0] }.map { m.subjectKeys[Int($0.subject)] } }
            }
            for (m, owner) in zip(matches, owners) {
                guard let s = owner, s != excluded else { continue }
                scores[s] = max(scores[s] ?? -.infinity, m.score)
            }
        }
        if let among {
            let faces = maps.withLock { m in
                among.flatMap { subject -> [String] in
                    guard let key = m.names.existingKey(subject), let n = m.subjectOrdinals[key] else { return [] }
                    return m.subjectFaces[Int(n)].map(m.names.string)
                }
            }
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
                    var local: [InlineID: Float] = [:]
                    keep(matches, into: &local)
                    if local.count >= limit || matches.count < k || k >= g.count {
                        for (s, v) in local { best[s] = max(best[s] ?? -.infinity, v) }
                        break
                    }
                    k = min(g.count, k * 4)
                }
            }
        }
        var ranked = maps.withLock { m in best.map { SubjectMatch(subject: m.names.string($0.key), score: $0.value) } }
        ranked.sort { a, b in a.score != b.score ? a.score > b.score : a.subject < b.subject }
        return Array(ranked.prefix(limit))
    }

    /// The best score of one subject's faces, nil when it has none here (1:1 against a subject).
    public func score(_ probe: [Float], subject: String, in partitions: [String]? = nil) throws(MatchingError) -> Float? {
        try search(probe, limit: 1, in: partitions, among: [subject]).first?.score
    }
}
