import Foundation
import Synchronization

/// Wakes the tasks that await the analysis threads, from a thread of its own at the default
/// priority.
///
/// The analysis threads run niced (see `AnalysisExecutor.niceness`), and Linux threads inherit
/// their creator's nice value. Resuming a continuation enqueues its task on the global executor,
/// which may spawn a cooperative-pool thread from the resuming thread: resumed from an analysis
/// thread, async work at large would end up niced. Handing each resumption to this thread, created
/// at the default priority, keeps the nice value on the analysis threads alone. A hand-over costs
/// one semaphore signal; resumptions that arrive together are run in one wake-up.
final class Resumer: Sendable {
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the thread; call from a thread at the default priority (its nice value is inherited).
    init(name: String) {
        let thread = Thread { [self] in
            nameCallingThread(name)
            self.loop()
        }
        thread.name = name
        thread.start()
    }

    /// Runs `resumption` on the resumer's thread, soon.
    func hand(_ resumption: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(resumption) }
        wake.signal()
    }

    private func loop() {
        while true {
            wake.wait()
            let batch = pending.withLock { p -> [@Sendable () -> Void] in
                defer { p.removeAll(keepingCapacity: true) }
                return p
            }
            for resumption in batch { resumption() }
        }
    }
}
