public import Foundation
import Glibc

/// A live progress bar on a terminal; a plain line every few seconds otherwise. Writes to stderr.
public final class ProgressDisplay {
    let total: Int
    let isTerminal: Bool
    let start = Date()
    private var lastLine = Date.distantPast
    private let lineInterval: TimeInterval

    public init(total: Int, lineInterval: TimeInterval = 5) {
        self.total = total
        self.lineInterval = lineInterval
        isTerminal = isatty(STDERR_FILENO) != 0
    }

    public func update(done: Int, failures: Int, processed: Int, final: Bool = false) {
        let now = Date()
        let elapsed = max(0.001, now.timeIntervalSince(start))
        let rate = Double(processed) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let eta = String(format: "%d:%02d", Int(remaining) / 60, Int(remaining) % 60)
        if isTerminal {
            guard final || now.timeIntervalSince(lastLine) >= 0.1 else { return }
            lastLine = now
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let line = String(format: "\r%@ %d/%d  %.1f img/s  ETA %@  failures %d ", bar, done, total, rate, eta, failures)
            FileHandle.standardError.write(Data((line + (final ? "\n" : "")).utf8))
        } else {
            guard final || now.timeIntervalSince(lastLine) >= lineInterval else { return }
            lastLine = now
            let line = String(format: "progress %d/%d (%.1f%%), %.1f img/s, ETA %@, failures %d\n", done, total,
                              total > 0 ? 100 * Double(done) / Double(total) : 100, rate, eta, failures)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
