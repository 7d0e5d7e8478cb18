import Synchronization

/// Workspaces handed to concurrent callers: a caller takes one (or a new one when none is free)
/// and gives it back, so one network serves any number of threads without a lock held during
/// inference, and memory grows only to the peak concurrency.
public final class WorkspacePool: Sendable {
    private let free = Mutex<[Workspace]>([])

    public init() {}

    public func withWorkspace<T>(_ body: (Workspace) throws -> T) rethrows -> T {
        let workspace = free.withLock { $0.popLast() } ?? Workspace()
        defer { free.withLock { $0.append(workspace) } }
        return try body(workspace)
    }

    /// Workspaces currently idle in the pool.
    public var idleCount: Int { free.withLock { $0.count } }
}
