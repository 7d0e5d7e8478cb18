private import Glibc

extension ImageDecoder {
    /// Largest file `decode(fileAt:)` reads; a 40 MP JPEG is far below it.
    public static let maxFileBytes = 256 << 20

    /// Reads and decodes an image file. The format comes from the bytes, never from the name.
    /// - Throws: `ImagingError.unreadable` when the file cannot be read, or a decoding error.
    public func decode(fileAt path: String) throws(ImagingError) -> RGBImage {
        try decode(Self.readFile(path))
    }

    /// The bytes of a regular file, refusing anything larger than `maxFileBytes`.
    public static func readFile(_ path: String) throws(ImagingError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size <= maxFileBytes else { throw .unreadable(path: path, reason: "file of \(size) bytes exceeds \(maxFileBytes)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        let failure: String? = bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return nil }
            while done < size {
                let n = read(fd, base + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                if n == 0 { break }  // the file shrank while we read it
                done += n
            }
            return nil
        }
        if let failure { throw .unreadable(path: path, reason: failure) }
        return Array(bytes[0..<done])
    }
}
