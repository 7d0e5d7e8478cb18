private import Glibc

/// The on-disk gallery format, version 1. All integers little-endian.
///
///     offset  size        field
///     0       8           magic "ARGUSGAL"
///     8       4           version (1)
///     12      4           dimension d
///     16      8           count n
///     24      8           idBytes: size of the id section
///     32      idBytes     n × (UInt32 length, UTF-8 bytes)
///     …       0–63        zero padding to a multiple of 64
///     V       n·d·4       row-major Float32 templates (the store's own layout)
///     V+n·d·4 8           checksum: Checksum64 of the vectors, seeded with Checksum64 of bytes [0, V)
///
/// The file size is fully determined by the header, so truncation is caught before any data
/// is trusted. Writes go to a temporary file that is fsynced and renamed over the target,
/// then the directory is fsynced: a crash leaves either the old file or the new one.
enum GalleryFile {
    static let magic: [UInt8] = Array("ARGUSGAL".utf8)
    static let version: UInt32 = 1
    static let headerSize = 32
    static let maxDimension = 65_536

    static func write(_ gallery: Gallery, to path: String) throws(GalleryFileError) {
        try gallery.withReadAccess { (store, ids) throws(GalleryFileError) in
            var prefix = [UInt8]()
            prefix += magic
            appendLE(&prefix, version)
            appendLE(&prefix, UInt32(store.dimension))
            appendLE(&prefix, UInt64(store.count))
            var idSection = [UInt8]()
            for id in ids.rowToID {
                let utf8 = Array(id.utf8)
                appendLE(&idSection, UInt32(utf8.count))
                idSection += utf8
            }
            appendLE(&prefix, UInt64(idSection.count))
            prefix += idSection
            prefix += [UInt8](repeating: 0, count: padding(after: prefix.count))

            let vectorBytes = UnsafeRawBufferPointer(start: store.base, count: store.count * store.dimension * 4)
            let seed = prefix.withUnsafeBytes { Checksum64.hash($0) }
            var trailer = [UInt8]()
            appendLE(&trailer, Checksum64.hash(vectorBytes, seed: seed))

            let directory = parentDirectory(of: path)
            let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .io(operation: "create", path: temporary, errno: errno) }
            do throws(GalleryFileError) {
                try check(prefix.withUnsafeBytes { b in attempt { () throws(GalleryFileError) in try writeAll(fd, b, path: temporary) } })
                try writeAll(fd, vectorBytes, path: temporary)
                try check(trailer.withUnsafeBytes { b in attempt { () throws(GalleryFileError) in try writeAll(fd, b, path: temporary) } })
                guard fsync(fd) == 0 else { throw GalleryFileError.io(operation: "fsync", path: temporary, errno: errno) }
                close(fd)
            } catch {
                close(fd)
                unlink(temporary)
                throw error
            }
            guard rename(temporary, path) == 0 else {
                let e = errno
                unlink(temporary)
                throw .io(operation: "rename", path: path, errno: e)
            }
            let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dirFD >= 0 {
                defer { close(dirFD) }
                guard fsync(dirFD) == 0 else { throw .io(operation: "fsync", path: directory, errno: errno) }
            }
        }
    }

    static func read(from path: String, tuning: SearchTuning) throws(GalleryFileError) -> Gallery {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        let fileSize = Int(info.st_size)

        var header = [UInt8](repeating: 0, count: headerSize)
        guard fileSize >= headerSize else {
            if fileSize >= magic.count {
                try check(header.withUnsafeMutableBytes { b in
                    attempt { () throws(GalleryFileError) in
                        try readAll(fd, UnsafeMutableRawBufferPointer(rebasing: b[0..<magic.count]), path: path)
                    }
                })
                guard Array(header[0..<magic.count]) == magic else { throw .notAGalleryFile }
                throw .truncated(expectedBytes: headerSize, actualBytes: fileSize)
            }
            throw .notAGalleryFile
        }
        try check(header.withUnsafeMutableBytes { b in attempt { () throws(GalleryFileError) in try readAll(fd, b, path: path) } })
        guard Array(header[0..<8]) == magic else { throw .notAGalleryFile }
        let fileVersion: UInt32 = loadLE(header, at: 8)
        guard fileVersion == version else { throw .unsupportedVersion(fileVersion) }
        let dimension = Int(loadLE(header, at: 12) as UInt32)
        let count64: UInt64 = loadLE(header, at: 16)
        let idBytes64: UInt64 = loadLE(header, at: 24)
        guard dimension >= 1, dimension <= maxDimension else { throw .corrupt("dimension \(dimension) out of range") }
        // Bounds that keep the size arithmetic below from overflowing; every id costs at least
        // its 4-byte length.
        guard count64 < 1 << 40, idBytes64 < 1 << 48, idBytes64 >= count64 * 4 else {
            throw .corrupt("header counts out of range")
        }
        let count = Int(count64), idBytes = Int(idBytes64)
        let (vectorBytes, overflow) = count.multipliedReportingOverflow(by: dimension * 4)
        guard !overflow else { throw .corrupt("header counts overflow") }
        let vectorOffset = headerSize + idBytes + padding(after: headerSize + idBytes)
        let expected = vectorOffset + vectorBytes + 8
        guard fileSize >= expected else { throw .truncated(expectedBytes: expected, actualBytes: fileSize) }
        guard fileSize == expected else { throw .corrupt("\(fileSize - expected) unexpected trailing bytes") }

        var prefix = header
        prefix += [UInt8](repeating: 0, count: vectorOffset - headerSize)
        try check(prefix.withUnsafeMutableBytes { b in
            attempt { () throws(GalleryFileError) in
                try readAll(fd, UnsafeMutableRawBufferPointer(rebasing: b[headerSize...]), path: path)
            }
        })
        let gallery = Gallery(dimension: dimension, tuning: tuning)
        let store = gallery.store
        store.reserve(count)
        if count > 0, let base = store.base {
            try readAll(fd, UnsafeMutableRawBufferPointer(start: base, count: vectorBytes), path: path)
        }
        var trailer = [UInt8](repeating: 0, count: 8)
        try check(trailer.withUnsafeMutableBytes { b in attempt { () throws(GalleryFileError) in try readAll(fd, b, path: path) } })
        let seed = prefix.withUnsafeBytes { Checksum64.hash($0) }
        let sum = Checksum64.hash(UnsafeRawBufferPointer(start: store.base, count: vectorBytes), seed: seed)
        guard sum == loadLE(trailer, at: 0) as UInt64 else { throw .checksumMismatch }

        var ids = IDMap()
        ids.reserve(count)
        var offset = headerSize
        let idEnd = headerSize + idBytes
        // The checksum has already vouched for these bytes, which were written from Swift strings:
        // decoding without a second validation pass, and one hash per id, keeps 1M ids fast.
        try prefix.withUnsafeBufferPointer { (bytes) throws(GalleryFileError) in
            for _ in 0..<count {
                guard idEnd - offset >= 4 else { throw .corrupt("id section ends early") }
                let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    | UInt32(bytes[offset + 3]) << 24)
                offset += 4
                guard idEnd - offset >= length else { throw .corrupt("id length past the id section") }
                let id = String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)
                guard ids.insert(id) else { throw .corrupt("duplicate id '\(id)'") }
                offset += length
            }
        }
        guard offset == idEnd else { throw .corrupt("id section has \(idEnd - offset) stray bytes") }
        if count > 0, let base = store.base { store.adoptRows(count, startingAt: base) }
        gallery.ids = ids
        return gallery
    }

    /// Runs `body` inside the untyped closures of `withUnsafe…Bytes`, handing its error out as a value.
    private static func attempt(_ body: () throws(GalleryFileError) -> Void) -> GalleryFileError? {
        do { try body() } catch { return error }
        return nil
    }

    private static func check(_ error: GalleryFileError?) throws(GalleryFileError) {
        if let error { throw error }
    }

    private static func padding(after size: Int) -> Int { (64 - size % 64) % 64 }

    private static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    private static func appendLE<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func loadLE<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(GalleryFileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, base + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    private static func readAll(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer, path: String) throws(GalleryFileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.read(fd, base + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { throw .truncated(expectedBytes: bytes.count, actualBytes: done) }
            done += n
        }
    }
}

extension Gallery {
    /// Writes the gallery atomically (temporary file, fsync, rename, directory fsync).
    public func save(to path: String) throws(GalleryFileError) {
        try GalleryFile.write(self, to: path)
    }

    /// Loads and validates a gallery file: a truncated or corrupted file throws, never yields a short gallery.
    public static func load(from path: String, tuning: SearchTuning = SearchTuning()) throws(GalleryFileError) -> Gallery {
        try GalleryFile.read(from: path, tuning: tuning)
    }
}
