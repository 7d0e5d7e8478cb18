/// Why a template or a query was refused. Nothing is changed when one of these is thrown.
public enum MatchingError: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongDimension(expected: Int, got: Int)
    /// A component is NaN or infinite.
    case nonFinite
    /// The vector has zero length and cannot be normalised.
    case zeroVector
    case duplicateID(String)
    case unknownID(String)
    /// `k` must be at least 1.
    case invalidK(Int)

    public var description: String {
        switch self {
        case .wrongDimension(let e, let g): return "wrong template dimension: expected \(e), got \(g)"
        case .nonFinite: return "template has a NaN or infinite component"
        case .zeroVector: return "template is the zero vector"
        case .duplicateID(let id): return "id '\(id)' is already in the gallery"
        case .unknownID(let id): return "id '\(id)' is not in the gallery"
        case .invalidK(let k): return "k must be at least 1 (got \(k))"
        }
    }
}
