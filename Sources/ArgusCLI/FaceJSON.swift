import ArgusFace

/// The JSON shape of one face in `detect` and `embed` output (dlib's conventions: inclusive
/// integer boxes [l, t, r, b], integer landmark pixels in dlib's part order).
struct FaceJSON: Encodable {
    struct Quality: Encodable {
        let face_size: Int
        let inside_fraction: Double
        let brightness: Double
        let sharpness: Double
        let reasons: [String]
    }

    let box: [Int]
    let confidence: Double
    let landmarks: [[Int]]
    let quality: Quality
    let descriptor: [Float]?
    let template: [Float]?

    init(_ r: FaceRecord, includeDescriptor: Bool) {
        box = [r.box.left, r.box.top, r.box.right, r.box.bottom]
        confidence = r.confidence
        landmarks = r.landmarks.map { [Int($0.x), Int($0.y)] }
        quality = Quality(face_size: r.quality.faceSize, inside_fraction: r.quality.insideFraction,
                          brightness: (r.quality.brightness * 10).rounded() / 10, sharpness: (r.quality.sharpness * 10).rounded() / 10,
                          reasons: r.quality.reasons.map(\.rawValue))
        descriptor = includeDescriptor ? r.descriptor : nil
        template = includeDescriptor ? r.template : nil
    }
}

struct ImageFacesJSON: Encodable {
    let path: String
    let width: Int
    let height: Int
    let faces: [FaceJSON]
}

struct ImageErrorJSON: Encodable {
    let path: String
    let error: String
    let code: String
}

extension FaceAnalysisError {
    /// A stable machine-readable code for JSON output.
    var code: String {
        switch self {
        case .modelMissing: return "model_missing"
        case .model: return "model_invalid"
        case .kernels: return "kernels_unavailable"
        case .image: return "invalid_image"
        case .wrongChipSize: return "wrong_chip_size"
        case .network: return "network_error"
        case .noFace: return "no_face"
        case .multipleFaces: return "multiple_faces"
        case .lowQuality: return "low_quality"
        }
    }
}
