/// Why a gallery file could not be written or read. A failed load never yields a partial gallery.
public enum GalleryFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case io(operation: String, path: String, errno: Int32)
    case notAGalleryFile
    case unsupportedVersion(UInt32)
    case truncated(expectedBytes: Int, actualBytes: Int)
    case corrupt(String)
    case checksumMismatch

    public var description: String {
        switch self {
        case .io(let op, let path, let e): return "\(op) \(path) failed (errno \(e))"
        case .notAGalleryFile: return "not an Argus gallery file (bad magic)"
        case .unsupportedVersion(let v): return "unsupported gallery file version \(v)"
        case .truncated(let e, let a): return "gallery file truncated: \(a) of \(e) bytes"
        case .corrupt(let why): return "gallery file corrupt: \(why)"
        case .checksumMismatch: return "gallery file checksum mismatch"
        }
    }
}
