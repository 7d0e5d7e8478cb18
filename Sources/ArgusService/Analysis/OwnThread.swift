import Foundation

/// Runs `work` on a thread of its own and awaits it: for CPU work of seconds outside the request
/// path (filling the galleries at start-up), which must not hold a thread of the cooperative pool.
func onOwnThread<T: Sendable>(name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = name
        thread.start()
    }
}
