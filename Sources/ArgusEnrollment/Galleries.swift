public import ArgusMatching
public import ArgusStore
import Synchronization

/// The in-memory side of a store: one `SubjectIndex` per tenant and mode (its partitions are the
/// tenant's named galleries), filled from the store at start and kept in step by `Enroller` and
/// deletions. Searching never creates anything.
public final class Galleries: Sendable {
    public struct Owner: Hashable, Sendable {
        public let tenant: String
        public let mode: Mode
        public init(tenant: String, mode: Mode) {
            self.tenant = tenant
            self.mode = mode
        }
    }

    private let indexes = Mutex<[Owner: SubjectIndex]>([:])
    public let dimension: Int

    public init(dimension: Int) {
        self.dimension = dimension
    }

    /// Every face of `store` (of one tenant and mode, or all), opened and indexed.
    ///
    /// Each index is sized first from the store's counts (an index scan), so rows and maps are
    /// allocated once; the store reads ahead on a second thread while this one opens and indexes.
    /// - Returns: how many faces were loaded.
    @discardableResult
    public func load(from store: any Store, tenant: String? = nil, mode: Mode? = nil) throws -> Int {
        let counts = try store.faceCounts().filter { (tenant == nil || $0.tenant == tenant) && (mode == nil || $0.mode == mode) }
        for (owner, galleries) in Dictionary(grouping: counts, by: { Owner(tenant: $0.tenant, mode: $0.mode) }) {
            let total = galleries.reduce(0) { $0 + $1.faces }
            guard let largest = galleries.max(by: { $0.faces < $1.faces }) else { continue }
            let index = index(owner)
            index.reserve(faces: index.count + total, subjects: index.count + total,
                          partition: largest.gallery, partitionFaces: index.count(in: [largest.gallery]) + largest.faces)
        }
        var loaded = 0
        try store.forEachFaceBatch(tenant: tenant, mode: mode, batch: 8192, digests: false) { batch in
            try batch.templates.withUnsafeBufferPointer { all in
                for run in batch.runs {
                    let rows = UnsafeBufferPointer(rebasing: all[(run.faces.lowerBound * batch.dimension)..<(run.faces.upperBound * batch.dimension)])
                    try index(Owner(tenant: run.tenant, mode: run.mode))
                        .add(faces: batch.faceIDs[run.faces], subjects: batch.subjectIDs[run.faces], rows: rows, partition: run.gallery)
                }
            }
            loaded += batch.count
        }
        for index in indexes.withLock({ Array($0.values) }) { index.shrinkToFit() }
        // The rows read and opened on the way were freed in many small pieces: hand them back.
        SubjectIndex.releaseFreedMemory()
        return loaded
    }

    /// The index of a tenant and mode (created empty on first use: it holds nothing until a face is added).
    public func index(_ owner: Owner) -> SubjectIndex {
        indexes.withLock { all in
            if let i = all[owner] { return i }
            let i = SubjectIndex(dimension: dimension)
            all[owner] = i
            return i
        }
    }

    public func index(tenant: String, mode: Mode) -> SubjectIndex { index(Owner(tenant: tenant, mode: mode)) }

    /// Faces held in memory, over every tenant and mode.
    public var totalFaces: Int { indexes.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
