public import ArgusFace
import ArgusImaging
public import Foundation

/// Photo bytes → the face to use, with the pipeline's refusals as 422 errors.
struct FaceAnalysisService: Sendable {
    let pipeline: FacePipeline
    let decoder = ImageDecoder()

    func face(from bytes: [UInt8], policy: FacePipeline.EnrollmentPolicy = .single) throws -> FaceRecord {
        let image: RGBImage
        do {
            image = try decoder.decode(bytes)
        } catch {
            throw APIError.face("invalid_image", "The image could not be decoded: \(error)")
        }
        do {
            return try pipeline.enrollmentFace(image, policy: policy)
        } catch {
            switch error {
            case .noFace: throw APIError.face("no_face", "No face was found in the image")
            case .multipleFaces(let n): throw APIError.face("multiple_faces", "\(n) faces were found; exactly one is needed")
            case .lowQuality(let reasons):
                throw APIError.face("low_quality", "Face quality too low: " + reasons.map(\.rawValue).joined(separator: ", "))
            case .image(let e): throw APIError.face("invalid_image", "The image could not be decoded: \(e)")
            default: throw error
            }
        }
    }
}

extension FaceRecord {
    var boxArray: [Int] { [box.left, box.top, box.right, box.bottom] }

    var qualityJSON: [String: Any] {
        ["face_size": quality.faceSize, "brightness": (quality.brightness * 10).rounded() / 10,
         "sharpness": (quality.sharpness * 10).rounded() / 10, "confidence": confidence,
         "inside_fraction": (quality.insideFraction * 1000).rounded() / 1000, "reasons": quality.reasons.map(\.rawValue)]
    }
}
