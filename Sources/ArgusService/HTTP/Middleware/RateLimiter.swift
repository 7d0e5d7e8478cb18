public import Foundation
import Synchronization

/// A token bucket per key (a credential, or a client address for failed authentications): `rate`
/// tokens a second, at most `burst` saved up. Full buckets are forgotten, so memory stays bounded
/// by the keys active within the last `burst / rate` seconds.
final class RateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var updated: Double }
    private let buckets = Mutex<[String: Bucket]>([:])
    let rate: Double
    let burst: Double

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Whether a token is available, without taking it.
    func hasTokens(_ key: String, now: Double = Date().timeIntervalSince1970) -> Bool {
        buckets.withLock { all in
            guard let b = all[key] else { return true }
            return min(burst, b.tokens + (now - b.updated) * rate) >= 1
        }
    }

    /// Takes one token; false when the bucket is empty.
    func allow(_ key: String, now: Double = Date().timeIntervalSince1970) -> Bool {
        buckets.withLock { all in
            if all.count > 50_000 {
                // Drop buckets that have refilled: they hold no state worth keeping.
                all = all.filter { min(burst, $0.value.tokens + (now - $0.value.updated) * rate) < burst }
            }
            var b = all[key] ?? Bucket(tokens: burst, updated: now)
            b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
            b.updated = now
            let allowed = b.tokens >= 1
            if allowed { b.tokens -= 1 }
            all[key] = b
            return allowed
        }
    }

    /// Gives back a token taken by `allow` (a log-in that turned out right).
    func refund(_ key: String) {
        buckets.withLock { all in
            guard var b = all[key] else { return }
            b.tokens = min(burst, b.tokens + 1)
            all[key] = b
        }
    }
}
