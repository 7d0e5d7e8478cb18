import ArgusStore
import Foundation
import Glibc
import Logging

/// Writes a fresh gallery snapshot in the background after a start-up that read many faces from
/// the store itself, so the next start-up reads the snapshot. It runs on a thread of its own at
/// nice 10 (its reader thread inherits that): requests keep the cores.
enum GallerySnapshotter {
    static func start(_ store: SQLiteStore, logger: Logger) {
        let thread = Thread {
            // On Linux the nice value is per thread, and `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            let started = ContinuousClock.now
            do {
                let written = try store.writeGallerySnapshot()
                logger.info("gallery snapshot written", metadata: [
                    "faces": "\(written.faces)", "log_position": "\(written.seq)", "bytes": "\(written.bytes)",
                    "seconds": "\((ContinuousClock.now - started) / .milliseconds(1) / 1000)"])
            } catch {
                logger.warning("gallery snapshot not written: \(error)")
            }
        }
        thread.name = "argus-snapshot"
        thread.start()
    }
}
