import Foundation
import Glibc
import Synchronization

/// Runs CPU-heavy work (decoding, detection, embedding) on its own threads, never on Swift's
/// cooperative pool or the event loops, so health checks, auth refusals and reads answer at once
/// whatever the analysis load. The queue is bounded: beyond `queueLimit` waiting jobs a job is
/// refused at once; a job whose deadline passes while queued is refused and never run; a job
/// whose task is cancelled (the client went away) is dropped from the queue.
///
/// With `threads` workers at most `threads` images are decoded at once, which bounds decode memory
/// to `threads × maxPixels × 3` bytes plus the compressed bodies waiting in the queue.
///
/// Lanes hold work that continues admitted jobs and is worth running together (the embedding of
/// several requests' chips): a free thread asks each lane, before it takes a queued job, whether
/// its work is due; what a lane holds is never refused and has no deadline.
final class AnalysisExecutor: Sendable {
    enum Refusal: Error, Equatable {
        /// The queue was full.
        case overloaded
        /// The job waited past its deadline.
        case deadlineExceeded
        case cancelled
    }

    private final class Job: Sendable {
        let id: UInt64
        let deadline: UInt64
        let run: @Sendable () -> Void
        let refuse: @Sendable (Refusal) -> Void
        init(id: UInt64, deadline: UInt64, run: @escaping @Sendable () -> Void, refuse: @escaping @Sendable (Refusal) -> Void) {
            (self.id, self.deadline, self.run, self.refuse) = (id, deadline, run, refuse)
        }
    }

    private struct State {
        var queue: [Job] = []
        var head = 0
        var nextID: UInt64 = 0
        var running = 0
        var stopped = false
        var waiting: Int { queue.count - head }
    }

    let threads: Int
    let queueLimit: Int
    let deadline: Duration
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// The analysis threads run `niceness` steps nicer than the thread that made them: below the
    /// event loops, the cooperative pool and the clients of the same machine. A health check or a
    /// refusal takes a core the moment it needs one, and the analyses get everything else. (Every resumption goes through `resumer`, so the
    /// nice value stays on these threads: see `Resumer`.)
    static let niceness: Int32 = 10

    /// Resumes the tasks awaiting jobs and lanes; its thread runs at the default priority.
    let resumer: Resumer

    private let lanes: Mutex<[any AnalysisLane]> = Mutex([])

    init(threads: Int, queueLimit: Int, deadline: Duration) {
        self.threads = max(1, threads)
        self.queueLimit = max(0, queueLimit)
        self.deadline = deadline
        resumer = Resumer(name: "argus-resume")
        for n in 0..<self.threads {
            let thread = Thread { [self] in self.work() }
            thread.name = "argus-analysis-\(n)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Adds a lane; its `take` is asked by every free thread from now on.
    func add(lane: any AnalysisLane) {
        lanes.withLock { $0.append(lane) }
    }

    /// A lane calls this once for each item it is given, so that a sleeping thread looks at it.
    /// (Threads look for work before they sleep, so spare wake-ups only cost a look.)
    func signal() {
        wake.signal()
    }

    /// Jobs waiting and running now (for metrics and tests).
    var load: (waiting: Int, running: Int) { state.withLock { ($0.waiting, $0.running) } }

    /// True when a job submitted now would be refused as `overloaded`.
    var isFull: Bool { state.withLock { s in s.stopped || s.waiting >= queueLimit + max(0, threads - s.running) } }

    /// Runs `work` on an analysis thread and returns its result.
    /// - Throws: `Refusal` when it was not run, or whatever `work` threw.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let now = DispatchTime.now().uptimeNanoseconds
        let components = deadline.components
        let due = now + UInt64(max(0, components.seconds)) * 1_000_000_000 + UInt64(max(0, components.attoseconds / 1_000_000_000))
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let once = Mutex(false)
                let resume: @Sendable (Result<T, any Error>) -> Void = { [resumer] result in
                    let first = once.withLock { done -> Bool in defer { done = true }; return !done }
                    if first { resumer.hand { continuation.resume(with: result) } }
                }
                let job = Job(id: id, deadline: due, run: { resume(Result { try work() }) }, refuse: { resume(.failure($0)) })
                let accepted = state.withLock { s -> Bool in
                    guard !s.stopped, s.waiting < queueLimit + max(0, threads - s.running) else { return false }
                    s.queue.append(job)
                    return true
                }
                if accepted { wake.signal() } else { job.refuse(.overloaded) }
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(id)
        }
    }

    /// Drops a queued job (a running one finishes; its result is discarded by the caller).
    private func cancel(_ id: UInt64) {
        let dropped = state.withLock { s -> Job? in
            guard let i = s.queue[s.head...].firstIndex(where: { $0.id == id }) else { return nil }
            let job = s.queue[i]
            s.queue.remove(at: i)
            return job
        }
        dropped?.refuse(.cancelled)
    }

    private func work() {
        nameCallingThread("argus-analysis")
        if Self.niceness != 0 {
            // On Linux the nice value is per thread, and `who` 0 is the calling thread.
            // Relative to the thread's own value, so a server started under `nice` keeps the gap.
            let own = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(19, own + Self.niceness))
        }
        // A thread looks for work before it sleeps, not once per wake-up: a wake-up may have been
        // used by another thread, and lane items have no wake-up of their own once turned down.
        while true {
            if runNext() { continue }
            // Nothing to run now: sleep until a submission, or until the oldest lane item is due.
            if let due = lanes.withLock({ $0.compactMap(\.due).min() }) {
                _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: due))
            } else {
                wake.wait()
            }
        }
    }

    /// Runs one piece of work on the calling thread. - Returns: false when there was none.
    private func runNext() -> Bool {
        if runLane(jobsWaiting: state.withLock { $0.waiting > 0 }) { return true }
        let next = state.withLock { s -> Job? in
            guard s.head < s.queue.count else { return nil }
            let job = s.queue[s.head]
            s.head += 1
            if s.head > 1024, s.head * 2 > s.queue.count {
                s.queue.removeFirst(s.head)
                s.head = 0
            }
            s.running += 1
            return job
        }
        guard let job = next else {
            // The queue emptied since the lanes were asked (another thread took the job): what
            // they hold is due now.
            return runLane(jobsWaiting: false)
        }
        if DispatchTime.now().uptimeNanoseconds > job.deadline {
            job.refuse(.deadlineExceeded)
        } else {
            job.run()
        }
        state.withLock { $0.running -= 1 }
        return true
    }

    private func runLane(jobsWaiting: Bool) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        // Each lane's `take` hands its work over: it is called once per lane, never twice.
        let laneWork = lanes.withLock { lanes -> (@Sendable () -> Void)? in
            for lane in lanes {
                if let work = lane.take(jobsWaiting: jobsWaiting, now: now) { return work }
            }
            return nil
        }
        guard let laneWork else { return false }
        state.withLock { $0.running += 1 }
        laneWork()
        state.withLock { $0.running -= 1 }
        return true
    }
}

/// Work an executor's threads run between its queued jobs (see `AnalysisExecutor`).
protocol AnalysisLane: AnyObject, Sendable {
    /// The work to run now on the calling thread, or nil when none is due. `jobsWaiting`: whether
    /// admitted jobs are queued; `now`: `DispatchTime` nanoseconds.
    func take(jobsWaiting: Bool, now: UInt64) -> (@Sendable () -> Void)?
    /// When the oldest item it holds is due whatever else waits (`DispatchTime` nanoseconds), if it holds any.
    var due: UInt64? { get }
}
