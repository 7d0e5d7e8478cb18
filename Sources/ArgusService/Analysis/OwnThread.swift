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

/// Names the calling thread as `ps -L`, `top -H` and /proc show it (the kernel keeps 15 bytes).
/// (Foundation's `Thread.name` set before `start()` does not reach the kernel on Linux.)
func nameCallingThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}
