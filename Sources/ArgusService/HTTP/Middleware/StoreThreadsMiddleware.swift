import Foundation
public import Hummingbird
import Synchronization

/// Threads on which a request may wait for its store. The store's calls block their thread until
/// the database answers: microseconds for the embedded store, but a network round trip (or a
/// database restart) for PostgreSQL. Blocking the cooperative pool's few threads (one per core)
/// would stall every other request behind them, so on a PostgreSQL store each request runs with
/// this pool as its task executor. CPU-heavy work still goes to the analysis executor.
final class StoreThreads: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is guarded by `lock`; the threads only read it under the lock.
    private let lock = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0

    init(threads: Int) {
        for i in 0..<max(1, threads) {
            let thread = Thread { [self] in work() }
            thread.name = "argus-store-\(i)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        lock.lock()
        jobs.append(unowned)
        lock.signal()
        lock.unlock()
    }

    private func work() {
        let executor = asUnownedTaskExecutor()
        while true {
            lock.lock()
            while head == jobs.count { lock.wait() }
            let job = jobs[head]
            head += 1
            if head > 1024, head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            lock.unlock()
            job.runSynchronously(on: executor)
        }
    }
}

/// Runs the rest of the chain on `StoreThreads`.
struct StoreThreadsMiddleware<Context: RequestContext>: RouterMiddleware {
    let threads: StoreThreads

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await withTaskExecutorPreference(threads) { try await next(request, context) }
    }
}
