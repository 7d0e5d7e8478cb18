import Foundation
import Testing
@testable import ArgusNN

@Suite("dlib model files: loading and refusal")
struct ModelFileTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var modelsDir: URL {
        ProcessInfo.processInfo.environment["ARGUS_MODELS"].map { URL(fileURLWithPath: $0) } ?? repoRoot.appendingPathComponent("models")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: modelsDir.appendingPathComponent(name)))
    }

    @Test("the recognition network parses exactly, with the layer counts of spec §4")
    func recognition() throws {
        let file = try DlibNetworkFile(bytes: try Self.bytes("dlib_face_recognition_resnet_model_v1.dat"),
                                       architecture: ResNetArchitecture.layers)
        #expect(file.loss == .metric(margin: 0.04, distanceThreshold: 0.6))
        #expect(file.input.rows == 150 && file.input.columns == 150)
        #expect(file.input.mean.r == 122.782 && file.input.mean.g == 117.001 && file.input.mean.b == 104.298)
        var counts: [String: Int] = [:]
        for op in file.operations { counts[String(op.name.split(separator: " ")[0]), default: 0] += 1 }
        #expect(counts["con"] == 29 && counts["affine"] == 29 && counts["relu"] == 29 && counts["add_prev1"] == 10
                && counts["add_prev2"] == 4 && counts["skip1"] == 4 && counts["fc"] == 1 && counts["max_pool"] == 1 && counts["avg_pool"] == 5)
        let net = Network(operations: file.operations)
        #expect(try net.outputShape(for: Shape(n: 2, height: 150, width: 150, channels: 3)) == Shape(n: 2, height: 1, width: 1, channels: 128))
    }

    @Test("the detector network parses exactly (bn_con2 folded, MMOD options v1)")
    func detector() throws {
        let file = try DlibNetworkFile(bytes: try Self.bytes("mmod_human_face_detector.dat"), architecture: MMODArchitecture.layers)
        guard case .mmod(let options) = file.loss else { Issue.record("not an MMOD loss"); return }
        #expect(options.windows.count == 1 && options.windows[0] == (80, 80))
        #expect(options.nmsIoUThreshold == 0.3382761351109955)
        #expect(file.input.pyramidPadding == 10 && file.input.pyramidOuterPadding == 11)
        #expect(file.operations.count == 19)
    }

    @Test("truncated, extended, foreign and mismatched files are refused with typed errors")
    func refusals() throws {
        let good = try Self.bytes("mmod_human_face_detector.dat")
        for cut in [0, 1, 10, 60, 100, 140, good.count / 2, good.count - 1] {
            #expect(throws: ModelFileError.self, "cut at \(cut)") {
                try DlibNetworkFile(bytes: Array(good[0..<cut]), architecture: MMODArchitecture.layers)
            }
        }
        #expect(throws: ModelFileError.trailingBytes(offset: good.count, remaining: 1)) {
            try DlibNetworkFile(bytes: good + [0], architecture: MMODArchitecture.layers)
        }
        #expect(throws: ModelFileError.self) {
            try DlibNetworkFile(bytes: Array("this is not a model file at all, just text".utf8), architecture: MMODArchitecture.layers)
        }
        // The right file with the wrong architecture.
        #expect(throws: ModelFileError.self) { try DlibNetworkFile(bytes: good, architecture: ResNetArchitecture.layers) }
        let shape = try Self.bytes("shape_predictor_5_face_landmarks.dat")
        #expect(throws: ModelFileError.self) { try DlibNetworkFile(bytes: shape, architecture: ResNetArchitecture.layers) }
        #expect(throws: ModelFileError.self) { try DlibNetworkFile(contentsOf: "/nonexistent/model.dat", architecture: MMODArchitecture.layers) }
    }
}
