/// A thread-safe gallery of face templates with exact cosine search.
///
/// Layers (as in FAISS): `TemplateStore` holds the rows (row-major n×d Float32, L2-normalised,
/// row i at `i*d`, 64-byte aligned); `FlatInnerProductIndex` scores them; `IDMap` translates
/// external ids. Templates are normalised on the way in, so an inner product is a cosine.
///
/// Concurrency: searches take a shared lock and never block each other; `add` and `remove`
/// take the exclusive lock, wait for searches in flight, and are preferred over new searches
/// so they are not starved. A search sees the gallery either before or after any write, never
/// half-way. Removal moves the last row into the hole, which is invisible through ids.
public final class Gallery: @unchecked Sendable {
    // @unchecked: every stored mutable state below is read under `lock`'s shared mode and
    // written under its exclusive mode.
    public let dimension: Int
    private let lock = ReadWriteLock()
    let store: TemplateStore
    var ids = IDMap()
    private let index: FlatInnerProductIndex

    public init(dimension: Int, tuning: SearchTuning = SearchTuning()) {
        precondition(dimension > 0, "dimension > 0")
        self.dimension = dimension
        self.store = TemplateStore(dimension: dimension, keepsHalfPrecision: tuning.halfPrecisionPrefilter)
        self.index = FlatInnerProductIndex(tuning: tuning)
    }

    public var count: Int { lock.withReadLock { store.count } }

    public func contains(_ id: String) -> Bool { lock.withReadLock { ids.row(of: id) != nil } }

    /// All ids, in row order.
    public var allIDs: [String] { lock.withReadLock { ids.rowToID } }

    /// Adds a template under `id`, normalising it.
    /// - Throws: `.wrongDimension`, `.nonFinite`, `.zeroVector`, `.duplicateID`; the gallery is unchanged then.
    public func add(id: String, template: [Float]) throws(MatchingError) {
        try add([(id: id, template: template)])
    }

    /// Adds many templates at once; all or nothing.
    public func add(_ entries: [(id: String, template: [Float])]) throws(MatchingError) {
        let rows = try contiguousRows(entries.lazy.map(\.template), dimension: dimension)
        try rows.withUnsafeBufferPointer { (buffer) throws(MatchingError) in try add(ids: entries.map(\.id), rows: buffer) }
    }

    /// Adds `ids.count` templates from contiguous rows (row i at `i * dimension`), normalising
    /// those not of unit length; all or nothing. The one way rows enter a gallery.
    public func add(ids newIDs: some Collection<String>, rows: UnsafeBufferPointer<Float>) throws(MatchingError) {
        try add(ids: newIDs, prepared: try PreparedRows(rows, count: newIDs.count, dimension: dimension))
    }

    /// Adds rows already checked (and scaled where needed) by `PreparedRows`: the check runs before
    /// any lock is taken.
    func add(ids newIDs: some Collection<String>, prepared: PreparedRows) throws(MatchingError) {
        precondition(prepared.count == newIDs.count && prepared.dimension == dimension, "rows prepared for these ids")
        guard !newIDs.isEmpty else { return }
        try lock.withWriteLock { () throws(MatchingError) in
            // One hash per id: each is recorded as it is checked, and taken back if a later one is present.
            // The map is held locally meanwhile: a stored property of a class pays a dynamic
            // exclusivity check on every access (5 % of a million-face start-up).
            var map = IDMap()
            swap(&map, &ids)
            defer { swap(&map, &ids) }
            var inserted = 0
            for id in newIDs {
                guard map.insert(id) else {
                    for undo in newIDs.prefix(inserted).reversed() { _ = map.remove(undo) }
                    throw .duplicateID(id)
                }
                inserted += 1
            }
            store.grow(toFit: store.count + newIDs.count)
            prepared.withRows { store.appendRows($0, rows: newIDs.count) }
        }
    }

    /// Room for `rows` faces in all without reallocation (a bulk load that knows its size).
    public func reserve(_ rows: Int) {
        lock.withWriteLock {
            store.reserve(rows, prefaulting: true)
            ids.reserve(rows)
        }
    }

    /// Gives back spare row capacity (after a bulk load).
    public func shrinkToFit() {
        lock.withWriteLock {
            store.shrinkToFit()
            ids.shrinkToFit()
        }
    }

    /// Removes `id` in O(1). - Returns: whether it was present.
    @discardableResult
    public func remove(id: String) -> Bool {
        lock.withWriteLock {
            guard let row = ids.remove(id) else { return false }
            _ = store.removeSwappingLast(row: row)
            return true
        }
    }

    /// The stored (normalised) template of `id`.
    public func template(for id: String) -> [Float]? {
        lock.withReadLock {
            guard let row = ids.row(of: id) else { return nil }
            return Array(store.row(row))
        }
    }

    /// Cosine similarity of two raw templates, in [-1, 1].
    public static func verify(_ a: [Float], _ b: [Float]) throws(MatchingError) -> Float {
        guard a.count == b.count else { throw .wrongDimension(expected: a.count, got: b.count) }
        let na = try normalizedTemplate(a, dimension: a.count)
        let nb = try normalizedTemplate(b, dimension: b.count)
        var dot = 0.0
        for i in 0..<na.count { dot += Double(na[i]) * Double(nb[i]) }
        return Float(min(1, max(-1, dot)))
    }

    /// Exact top-k by cosine for one query, best first; ties go to the earlier-added row.
    /// Fewer than k results when the gallery (or the set above `minScore`) is smaller.
    public func search(_ query: [Float], k: Int, minScore: Float = -.infinity) throws(MatchingError) -> [Match] {
        guard k > 0 else { throw .invalidK(k) }
        let q = try normalizedTemplate(query, dimension: dimension)
        return lock.withReadLock {
            let heap = q.withUnsafeBufferPointer { index.search(store, query: $0.baseAddress!, k: k, minScore: minScore) }
            return matches(heap)
        }
    }

    /// Batch search: `queries` holds n×d values row-major; returns n result lists.
    public func search(queries: [Float], k: Int, minScore: Float = -.infinity) throws(MatchingError) -> [[Match]] {
        guard k > 0 else { throw .invalidK(k) }
        guard queries.count % dimension == 0 else {
            throw .wrongDimension(expected: dimension, got: queries.count % dimension)
        }
        let n = queries.count / dimension
        var normalized = [Float]()
        normalized.reserveCapacity(queries.count)
        for i in 0..<n {
            normalized += try normalizedTemplate(Array(queries[(i * dimension)..<((i + 1) * dimension)]), dimension: dimension)
        }
        guard n > 0 else { return [] }
        return lock.withReadLock {
            let heaps = normalized.withUnsafeBufferPointer {
                index.search(store, queries: $0.baseAddress!, queryCount: n, k: k, minScore: minScore)
            }
            return heaps.map(matches)
        }
    }

    /// Top-k among `subset` only; ids not in the gallery are ignored.
    public func search(_ query: [Float], k: Int, among subset: some Sequence<String>,
                       minScore: Float = -.infinity) throws(MatchingError) -> [Match] {
        guard k > 0 else { throw .invalidK(k) }
        let q = try normalizedTemplate(query, dimension: dimension)
        return lock.withReadLock {
            var rows = Set<Int>()
            for id in subset { if let row = ids.row(of: id) { rows.insert(row) } }
            let heap = q.withUnsafeBufferPointer {
                index.search(store, query: $0.baseAddress!, rows: rows.sorted(), k: k, minScore: minScore)
            }
            return matches(heap)
        }
    }

    private func matches(_ heap: TopK) -> [Match] {
        heap.sorted().map { Match(id: ids.id(ofRow: $0.row), score: $0.score) }
    }

    /// Runs `body` with the store and id map under the shared lock (persistence).
    func withReadAccess<T, E: Error>(_ body: (TemplateStore, IDMap) throws(E) -> T) throws(E) -> T {
        try lock.withReadLock { () throws(E) -> T in try body(store, ids) }
    }
}

/// Contiguous rows checked for a gallery (dimension, finite, non-zero) and of unit length: the
/// caller's buffer when every row already is (every stored template), else a scaled copy.
struct PreparedRows {
    let count: Int
    let dimension: Int
    private let source: UnsafeBufferPointer<Float>
    private let scaled: [Float]?

    /// - Warning: `rows` must outlive the value (it is read in place).
    init(_ rows: UnsafeBufferPointer<Float>, count: Int, dimension: Int) throws(MatchingError) {
        guard rows.count == count * dimension else {
            throw .wrongDimension(expected: dimension, got: count == 0 ? rows.count : rows.count / count)
        }
        var scales: [(row: Int, scale: Float)] = []
        if let base = rows.baseAddress {
            for i in 0..<count {
                if let s = try unitScale(UnsafeBufferPointer(start: base + i * dimension, count: dimension)) { scales.append((i, s)) }
            }
        }
        var copy: [Float]?
        if !scales.isEmpty {
            var c = Array(rows)
            for (row, scale) in scales {
                for j in (row * dimension)..<((row + 1) * dimension) { c[j] *= scale }
            }
            copy = c
        }
        (self.count, self.dimension, self.source, self.scaled) = (count, dimension, rows, copy)
    }

    func withRows(_ body: (UnsafePointer<Float>) -> Void) {
        if let scaled {
            scaled.withUnsafeBufferPointer { if let p = $0.baseAddress { body(p) } }
        } else if let p = source.baseAddress {
            body(p)
        }
    }
}
