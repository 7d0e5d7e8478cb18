internal import CArgusKernels
private import Glibc

/// The instruction set the convolution microkernels run on (Sources/CArgusKernels/conv.c).
/// Chosen from CPUID once per process; `ARGUS_KERNELS=avx512|avx2|portable` overrides the choice
/// (an unknown name, or one this CPU cannot run, is refused by `configured`).
public enum InstructionSet: String, Sendable, CaseIterable {
    case portable
    case avx2
    case avx512
    /// The AVX-512 kernel's tiling (16 lanes, 8 pixels per tile) compiled for AVX2, so that tests on
    /// machines without AVX-512 run the code the AVX-512 path is built from.
    case wide16OnAVX2 = "wide16-avx2"

    var c: argus_conv_isa {
        switch self {
        case .portable: ARGUS_CONV_PORTABLE
        case .avx2: ARGUS_CONV_AVX2
        case .avx512: ARGUS_CONV_AVX512
        case .wide16OnAVX2: ARGUS_CONV_WIDE16_AVX2
        }
    }

    /// Whether this CPU runs it.
    public var isSupported: Bool { argus_conv_isa_supported(c) != 0 }

    /// The fastest set this CPU runs.
    public static var best: InstructionSet {
        switch argus_conv_best_isa() {
        case ARGUS_CONV_AVX512: .avx512
        case ARGUS_CONV_AVX2: .avx2
        default: .portable
        }
    }

    public enum SelectionError: Error, CustomStringConvertible {
        case unknown(String)
        case unsupported(InstructionSet)
        public var description: String {
            switch self {
            case .unknown(let name): "ARGUS_KERNELS=\(name) is not one of avx512, avx2, portable"
            case .unsupported(let isa): "ARGUS_KERNELS=\(isa.rawValue): this CPU does not run it"
            }
        }
    }

    /// What networks use when not told: `configured()`, or `best` when that is refused (callers
    /// that load models check `configured()` first and report the refusal).
    public static let processDefault: InstructionSet = (try? configured()) ?? best

    /// `ARGUS_KERNELS` when set, else `best`.
    public static func configured() throws(SelectionError) -> InstructionSet {
        guard let raw = getenv("ARGUS_KERNELS").map({ String(cString: $0) }), !raw.isEmpty else { return best }
        guard let isa = InstructionSet(rawValue: raw.lowercased()) else { throw .unknown(raw) }
        guard isa.isSupported else { throw .unsupported(isa) }
        return isa
    }
}
