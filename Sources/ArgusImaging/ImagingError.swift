/// Why an image could not be decoded. Every decoding failure is one of these; none crashes.
public enum ImagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input has no bytes.
    case empty
    /// The bytes are neither JPEG nor PNG (judged by their magic bytes, never by a file name).
    case unsupportedFormat
    /// The decoder rejected the data.
    case corrupt(detail: String)
    /// The data ends before the image does.
    case truncated(detail: String)
    /// The header declares more pixels than the budget allows; nothing large was allocated.
    case tooLarge(width: Int, height: Int, maxPixels: Int)
    /// The allocator refused the pixel buffer.
    case outOfMemory
    /// The file could not be read.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .empty: return "the image is empty (0 bytes)"
        case .unsupportedFormat: return "unsupported image format: only JPEG and PNG are accepted"
        case .corrupt(let detail): return "corrupt image: \(detail)"
        case .truncated(let detail): return "truncated image: \(detail)"
        case .tooLarge(let w, let h, let max): return "image too large: \(w)x\(h) exceeds the budget of \(max) pixels"
        case .outOfMemory: return "out of memory while decoding"
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        }
    }
}
