public import ArgusStore
import Foundation
public import Logging
import Synchronization

/// Keeps a node's galleries in step with a PostgreSQL store that other nodes write too.
///
/// The node read the face log's position p, then loaded its galleries. From then on it applies
/// the log's entries after p, in order (those the load already saw change nothing), and remembers the last one applied:
/// nothing is missed (the log is numbered in commit order) and nothing is applied twice (a face
/// already held is not added again; removing one not held changes nothing). A notification on
/// `argus_faces` wakes it at once; without one it still looks every second, so a lost listening
/// connection (a database restart) delays changes by a second at most, once it is back.
public final class GalleryFollower: Sendable {
    let store: PostgresStore
    let galleries: Galleries
    let logger: Logger
    private let position: Mutex<Int64>
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let lastCaughtUp = Mutex<ContinuousClock.Instant>(.now)
    private let applied = Atomic<Int>(0)
    private let listening = Atomic<Bool>(false)

    public init(store: PostgresStore, galleries: Galleries, from position: Int64, logger: Logger) {
        self.store = store
        self.galleries = galleries
        self.position = Mutex(position)
        self.logger = logger
    }

    /// The last face-log position applied.
    public var appliedPosition: Int64 { position.withLock { $0 } }
    /// Entries applied since start.
    public var appliedEntries: Int { applied.load(ordering: .relaxed) }
    /// How long since the follower last read the log to its end (a database that cannot be reached makes it grow).
    public var staleness: Duration { ContinuousClock.now - lastCaughtUp.withLock { $0 } }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "argus-gallery-follow"
        thread.start()
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }

    /// Reads and applies every entry after the last applied one, now. - Returns: how many.
    @discardableResult
    public func catchUp() throws -> Int {
        var total = 0
        while true {
            let from = position.withLock { $0 }
            let changes = try store.faceChanges(after: from, limit: 4096)
            guard let last = changes.last else { break }
            apply(changes)
            position.withLock { $0 = max($0, last.position) }
            total += changes.count
            if changes.count < 4096 { break }
        }
        sweepRecentRemovals()
        lastCaughtUp.withLock { $0 = .now }
        applied.add(total, ordering: .relaxed)
        return total
    }

    /// Faces removed in the last minute, by tenant and mode. This node's own enrolment may add a
    /// face to its gallery just after the follower applied that face's removal (committed on
    /// another node in between): every pass removes such a face again, so it is searchable for a
    /// second at most.
    private let recentRemovals = Mutex<[(at: ContinuousClock.Instant, owner: Galleries.Owner, face: String)]>([])

    private func sweepRecentRemovals() {
        let now = ContinuousClock.now
        let recent = recentRemovals.withLock { list -> [(at: ContinuousClock.Instant, owner: Galleries.Owner, face: String)] in
            list.removeAll { now - $0.at > .seconds(60) }
            return list
        }
        for (_, owner, face) in recent {
            let index = galleries.index(owner)
            if index.subject(ofFace: face) != nil { index.remove(faces: [face]) }
        }
    }

    private func apply(_ changes: [FaceChange]) {
        for change in changes {
            let index = galleries.index(tenant: change.tenant, mode: change.mode)
            if change.unreadable {
                logger.error("a logged face's template did not open: it is not searchable on this node", metadata: ["face": "\(change.faceID)"])
                continue
            }
            if change.added {
                // Removed since it was logged (its removal is a later entry), or already held
                // (this node wrote it, or applied it before a reconnect).
                guard let template = change.template, let subject = change.subjectID, index.subject(ofFace: change.faceID) == nil else { continue }
                do {
                    try index.add(face: change.faceID, subject: subject, template: template, partition: change.gallery)
                } catch {
                    // A duplicate id: the node's own enrolment added it meanwhile.
                    if case .duplicateID = error { continue }
                    logger.error("a logged face was not indexed", metadata: ["face": "\(change.faceID)", "error": "\(error)"])
                }
            } else {
                index.remove(faces: [change.faceID])
                recentRemovals.withLock { list in
                    if list.count < 100_000 { list.append((.now, Galleries.Owner(tenant: change.tenant, mode: change.mode), change.faceID)) }
                }
            }
        }
    }

    private func run() {
        var closeListener: (@Sendable () -> Void)?
        while !stopped.load(ordering: .relaxed) {
            if !listening.load(ordering: .relaxed) {
                closeListener?()
                // Set before listening: a connection lost at once clears it again.
                listening.store(true, ordering: .relaxed)
                closeListener = try? store.listenForFaces(wake: { [self] in wake.signal() },
                                                          lost: { [self] in listening.store(false, ordering: .relaxed); wake.signal() })
                if closeListener == nil { listening.store(false, ordering: .relaxed) }
            }
            do {
                try catchUp()
            } catch {
                logger.warning("the face log could not be read; retrying", metadata: ["error": "\(error)"])
            }
            _ = wake.wait(timeout: .now() + .seconds(1))
            // Notifications that came in a burst are read in one pass.
            while wake.wait(timeout: .now()) == .success {}
        }
        closeListener?()
    }
}
