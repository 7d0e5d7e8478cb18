public import Foundation
import Glibc

/// Files of a data directory are private from their first byte: the directory is 0700 and every
/// file in it 0600, whatever existed before; secrets are written to an `O_EXCL` 0600 temporary
/// file, fsynced and renamed into place, so no reader ever sees a partial or world-readable key.
enum PrivateFiles {
    enum Failure: Error, CustomStringConvertible {
        case io(String)
        var description: String {
            switch self { case .io(let why): return why }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Creates the directory (0700), or tightens an existing one to 0700.
    static func directory(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            // Parents may be missing: create them the ordinary way, then the leaf privately.
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard chmod(path, 0o700) == 0 else { throw Failure.io("cannot chmod 0700 \(path): \(errnoText())") }
    }

    /// Makes sure `path` exists with mode 0600 (created empty when absent), without truncating it.
    static func touch(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw Failure.io("cannot chmod 0600 \(path): \(errnoText())") }
    }

    /// Tightens an existing file to 0600; absent files are fine.
    static func restrict(_ path: String) throws {
        if chmod(path, 0o600) != 0 && errno != ENOENT { throw Failure.io("cannot chmod 0600 \(path): \(errnoText())") }
    }

    /// Writes `contents` to `path` atomically with mode 0600 from the first byte. Fails if `path` exists.
    static func createSecret(_ path: String, contents: Data) throws {
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot create \(temporary): \(errnoText())") }
        var ok = fchmod(fd, 0o600) == 0
        contents.withUnsafeBytes { raw in
            var offset = 0
            while ok && offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { ok = false } else { offset += n }
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        // link(2) fails if the target exists: never replaces a key another process created.
        guard ok, link(temporary, path) == 0 else {
            let why = errnoText()
            unlink(temporary)
            throw Failure.io("cannot create \(path): \(why)")
        }
        unlink(temporary)
        syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// Serialises a store's first-use initialisation (master key, default tenant, migrations, first
/// key) across processes: a blocking `flock` on `argus.init.lock`, held only while `body` runs.
enum InitializationLock {
    static func run<T>(dataDirectory: String, _ body: () throws -> T) throws -> T {
        let path = (dataDirectory as NSString).appendingPathComponent("argus.init.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw PrivateFiles.Failure.io("cannot open \(path): \(PrivateFiles.errnoText())") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw PrivateFiles.Failure.io("cannot lock \(path): \(PrivateFiles.errnoText())") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
