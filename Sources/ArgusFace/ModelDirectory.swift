import Foundation

/// Where the dlib model files live: `--models DIR`, else `$ARGUS_MODELS`, else `./models`.
public struct ModelDirectory: Sendable, Equatable {
    public static let recognitionFile = "dlib_face_recognition_resnet_model_v1.dat"
    public static let detectorFile = "mmod_human_face_detector.dat"
    public static let landmarksFile = "shape_predictor_5_face_landmarks.dat"

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The directory chosen by an explicit option, the environment, or the default, in that order.
    public static func resolve(option: String? = nil, environment: [String: String]? = nil) -> ModelDirectory {
        let env = environment ?? ProcessInfo.processInfo.environment
        return ModelDirectory(path: option ?? env["ARGUS_MODELS"] ?? "models")
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Throws a message that says how to get the models when a file is missing.
    public func require(_ name: String) throws(FaceAnalysisError) -> String {
        let full = file(name)
        guard FileManager.default.fileExists(atPath: full) else { throw .modelMissing(path: full) }
        return full
    }
}
