private import Glibc

/// The precision of the convolutions' inputs and weights. `.bf16` rounds both to bfloat16 (each
/// layer's input as it is read, the weights once at load) and accumulates in Float32: the numerics
/// of AVX512-BF16's dot-product instruction, emulated with Float32 FMAs on exact bf16 values. Off
/// by default; `ARGUS_PRECISION=bf16` turns it on. Winograd is not used with it (its transforms
/// would round again). See the README for its measured cost in faithfulness and accuracy.
public enum Precision: String, Sendable, CaseIterable {
    case fp32
    case bf16

    public struct SelectionError: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "ARGUS_PRECISION=\(name) is not one of fp32, bf16" }
    }

    /// `ARGUS_PRECISION` when set, else `.fp32`.
    public static func configured() throws(SelectionError) -> Precision {
        guard let raw = getenv("ARGUS_PRECISION").map({ String(cString: $0) }), !raw.isEmpty else { return .fp32 }
        guard let p = Precision(rawValue: raw.lowercased()) else { throw SelectionError(name: raw) }
        return p
    }

    /// What networks use when not told (an unknown name falls back to fp32; model loaders check `configured()`).
    public static let processDefault: Precision = (try? configured()) ?? .fp32
}
