public import Foundation
import Synchronization

/// A token bucket per credential: `rate` tokens a second, at most `burst` saved up.
final class RateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var updated: Double }
    private let buckets = Mutex<[String: Bucket]>([:])
    let rate: Double
    let burst: Double

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes one token; false when the bucket is empty.
    func allow(_ key: String, now: Double = Date().timeIntervalSince1970) -> Bool {
        buckets.withLock { all in
            var b = all[key] ?? Bucket(tokens: burst, updated: now)
            b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
            b.updated = now
            let allowed = b.tokens >= 1
            if allowed { b.tokens -= 1 }
            all[key] = b
            return allowed
        }
    }
}
