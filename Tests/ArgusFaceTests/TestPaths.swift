import Foundation
@testable import ArgusFace

/// Where tests find the models (fetched by `make models`) and `../shared` (beside the checkout).
enum TestPaths {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var models: ModelDirectory {
        ModelDirectory(path: ProcessInfo.processInfo.environment["ARGUS_MODELS"] ?? repoRoot.appendingPathComponent("models").path)
    }

    static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["ARGUS_SHARED"] { return URL(fileURLWithPath: path) }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    static var golden: URL { shared.appendingPathComponent("tools/dlib_ref/golden") }

    static var hasGolden: Bool {
        let present = FileManager.default.fileExists(atPath: golden.appendingPathComponent("golden.json").path)
        if !present { print("skipping: \(golden.path) is absent (../shared is not beside this checkout)") }
        return present
    }

    static var hasFaces: Bool {
        let present = FileManager.default.fileExists(atPath: shared.appendingPathComponent("faces/manifest.tsv").path)
        if !present { print("skipping: \(shared.path)/faces is absent (../shared is not beside this checkout)") }
        return present
    }
}

/// Loaded once per test process: parsing the 22 MB model takes a moment.
enum SharedModels {
    static let embedder: FaceEmbedder = {
        do {
            return try FaceEmbedder(models: TestPaths.models)
        } catch {
            fatalError("cannot load the recognition model (run `make models`): \(error)")
        }
    }()
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in 0..<min(a.count, b.count) {
        dot += Double(a[i]) * b[i]
        na += Double(a[i]) * Double(a[i])
        nb += b[i] * b[i]
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

func maxAbsDifference(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) }.max() ?? .infinity
}

extension SharedModels {
    static let detector: FaceDetector = {
        do {
            return try FaceDetector(models: TestPaths.models)
        } catch {
            fatalError("cannot load the detector model (run `make models`): \(error)")
        }
    }()
}

extension SharedModels {
    static let landmarks: LandmarkPredictor = {
        do {
            return try LandmarkPredictor(models: TestPaths.models)
        } catch {
            fatalError("cannot load the landmark model (run `make models`): \(error)")
        }
    }()
}
