import ArgusMatching
import ArgusStore
import Foundation
import Glibc
import Logging

/// Keeps the gallery snapshot fresh on a thread of its own at nice 10 (its reader thread inherits
/// that): requests keep the cores.
/// - After a start-up that read more than `threshold` faces from the rows, it writes one at once,
///   so the next start-up reads the snapshot.
/// - Then every `interval` seconds it writes one when faces were removed since the last (a removed
///   face's sealed template stays in the snapshot until then: this bounds how long) or when the
///   face log has `threshold` entries since (it is pruned at each snapshot, so it stays bounded too).
enum GallerySnapshotter {
    static func start(_ store: SQLiteStore, now: Bool, threshold: Int, interval: TimeInterval, logger: Logger) {
        let thread = Thread { [weak store] in
            nameCallingThread("argus-snapshot")
            // On Linux the nice value is per thread, and `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            if now, let store { write(store, logger: logger, why: "start-up read the rows") }
            guard interval > 0 else { return }
            while true {
                Thread.sleep(forTimeInterval: interval)
                guard let store else { return }
                do {
                    let since = try store.faceLogSinceSnapshot()
                    if since.removals > 0 {
                        write(store, logger: logger, why: "\(since.removals) faces removed")
                    } else if since.entries >= max(1, threshold) {
                        write(store, logger: logger, why: "\(since.entries) face-log entries")
                    }
                } catch {
                    logger.warning("gallery snapshot check failed: \(error)")
                }
            }
        }
        thread.name = "argus-snapshot"
        thread.start()
    }

    private static func write(_ store: SQLiteStore, logger: Logger, why: String) {
        let started = ContinuousClock.now
        do {
            let written = try store.writeGallerySnapshot()
            logger.info("gallery snapshot written", metadata: [
                "faces": "\(written.faces)", "log_position": "\(written.seq)", "bytes": "\(written.bytes)", "why": "\(why)",
                "seconds": "\((ContinuousClock.now - started) / .milliseconds(1) / 1000)"])
        } catch {
            logger.warning("gallery snapshot not written: \(error)")
        }
        // The pass's batches were freed on two threads of their own (each with its malloc arena):
        // hand that memory back, or a long-running server's resident size steps up at each snapshot.
        SubjectIndex.releaseFreedMemory()
    }
}
