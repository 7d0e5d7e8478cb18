/// Why a network cannot run on an input.
public enum NetworkError: Error, Equatable, Sendable, CustomStringConvertible {
    case shapeMismatch(step: Int, operation: String, input: Shape)
    case inputCount(expected: Int, got: Int)
    case undefinedTag(step: Int, id: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let step, let op, let input): return "step \(step) (\(op)) cannot take input \(input)"
        case .inputCount(let e, let g): return "input has \(g) values, its shape needs \(e)"
        case .undefinedTag(let step, let id): return "step \(step) refers to tag \(id) before it is set"
        }
    }
}
