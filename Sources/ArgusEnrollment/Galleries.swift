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
    /// - Returns: how many faces were loaded.
    @discardableResult
    public func load(from store: any Store, tenant: String? = nil, mode: Mode? = nil) throws -> Int {
        var loaded = 0
        var pending: [Owner: [String: [(face: String, subject: String, template: [Float])]]] = [:]
        func flush() throws {
            for (owner, byGallery) in pending {
                for (gallery, faces) in byGallery { try index(owner).add(faces, partition: gallery) }
            }
            pending = [:]
        }
        try store.forEachFace(tenant: tenant, mode: mode) { face in
            pending[Owner(tenant: face.tenantID, mode: face.mode), default: [:]][face.gallery, default: []]
                .append((face.faceID, face.subjectID, face.template))
            loaded += 1
            if loaded % 4096 == 0 { try flush() }
        }
        try flush()
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
