public import Foundation
import Glibc

/// An exclusive lock on a data directory (`argus.lock`, `flock`): `argus serve` holds it while it
/// runs, and `argus enroll` refuses a store the server holds (its in-memory galleries would not
/// see the new faces). The lock dies with the process, kill -9 included.
public final class StoreLock: Sendable {
    private let fd: Int32
    public let path: String

    public enum Failure: Error, CustomStringConvertible {
        case held(path: String, holder: String)
        case io(String)
        public var description: String {
            switch self {
            case .held(let path, let holder):
                return "the store is in use by a running argus serve (\(holder), lock \(path)): stop it, or enrol through it with --server URL"
            case .io(let why): return why
            }
        }
    }

    public init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = (dataDirectory as NSString).appendingPathComponent("argus.lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buffer, 64, 0)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
            close(fd)
            throw Failure.held(path: path, holder: holder)
        }
        let note = "pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
