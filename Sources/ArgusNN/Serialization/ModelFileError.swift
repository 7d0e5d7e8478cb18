/// Why a model file was refused. Loading never yields a partly initialised network.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// The data ended inside a value.
    case truncated(offset: Int, expected: String)
    /// A value is not what the format allows at this point (bad control byte, wrong tag, …).
    case malformed(offset: Int, detail: String)
    /// The file parsed, but describes a different network than the one asked for.
    case wrongArchitecture(String)
    /// Bytes are left after the last layer.
    case trailingBytes(offset: Int, remaining: Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read model \(path): \(reason)"
        case .truncated(let offset, let expected): return "model file truncated at byte \(offset) (reading \(expected))"
        case .malformed(let offset, let detail): return "model file malformed at byte \(offset): \(detail)"
        case .wrongArchitecture(let detail): return "model file is not the expected network: \(detail)"
        case .trailingBytes(let offset, let remaining): return "model file has \(remaining) unexpected bytes after offset \(offset)"
        }
    }
}
