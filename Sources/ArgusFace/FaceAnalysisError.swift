public import ArgusNN
public import ArgusImaging

/// Why a face could not be analysed. Every failure of the face pipeline is one of these.
public enum FaceAnalysisError: Error, Equatable, Sendable, CustomStringConvertible {
    case modelMissing(path: String)
    case model(ModelFileError)
    case image(ImagingError)
    /// A chip must be exactly `FaceEmbedder.chipSize` square.
    case wrongChipSize(width: Int, height: Int)
    case network(NetworkError)
    /// `ARGUS_KERNELS` names an instruction set that does not exist or that this CPU cannot run.
    case kernels(String)
    case noFace
    case multipleFaces(count: Int)
    /// The face failed the quality gate.
    case lowQuality([QualityReason])

    public var description: String {
        switch self {
        case .kernels(let why): return why
        case .modelMissing(let path): return "model file \(path) is missing: run `make models` (or set ARGUS_MODELS / --models)"
        case .model(let e): return e.description
        case .image(let e): return e.description
        case .wrongChipSize(let w, let h): return "a face chip must be 150x150, got \(w)x\(h)"
        case .network(let e): return "network: \(e)"
        case .noFace: return "no face found"
        case .multipleFaces(let n): return "\(n) faces found where one was expected"
        case .lowQuality(let reasons): return "face quality too low: " + reasons.map(\.rawValue).joined(separator: ", ")
        }
    }
}

extension InstructionSet {
    /// `configured()`, its refusal (or `ARGUS_PRECISION`'s) as a `FaceAnalysisError`.
    static func checkedDefault() throws(FaceAnalysisError) -> InstructionSet {
        do { _ = try Precision.configured() } catch { throw .kernels(error.description) }
        do { return try configured() } catch { throw .kernels(error.description) }
    }
}
