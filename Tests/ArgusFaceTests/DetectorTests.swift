import Crypto
import Foundation
import Testing
import ArgusNN
import ArgusImaging
@testable import ArgusFace

@Suite("MMOD detector faithfulness")
struct DetectorTests {
    struct GoldenFace: Decodable {
        let box_ltrb: [Int]
        let confidence: Double
    }
    struct Intermediates: Decodable {
        let upsampled_size_wh: [Int]
        let upsampled_rgb_sha256: String
        let tiled_tensor_hw: [Int]
        let pyramid_rects_ltrb: [[Int]]
        let score_map_hw: [Int]
        let score_max: Double
        let num_scores_above_0: Int
    }
    struct GoldenRun: Decodable {
        let upsample: Int
        let faces: [GoldenFace]
        let reference_intermediates: Intermediates
    }
    struct GoldenEntry: Decodable { let runs: [GoldenRun] }
    struct Golden: Decodable { let files: [String: GoldenEntry] }

    static func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    @Test("golden images: upsampled pixels, pyramid layout, score map and boxes match dlib, on every instruction set",
          .enabled(if: TestPaths.hasGolden), arguments: InstructionSet.allCases.filter(\.isSupported))
    func golden(kernels: InstructionSet) throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden.appendingPathComponent("golden.json")))
        let detector = try FaceDetector(models: TestPaths.models, kernels: kernels)
        #expect(!golden.files.isEmpty)
        for (name, entry) in golden.files.sorted(by: { $0.key < $1.key }) {
            let image = try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent(name).path)
            for run in entry.runs {
                let ri = run.reference_intermediates
                var work = image
                for _ in 0..<run.upsample {
                    let s = DlibResize.upsampledSize(width: work.width, height: work.height)
                    work = DlibResize.resize(work, width: s.width, height: s.height)
                }
                #expect([work.width, work.height] == ri.upsampled_size_wh, "\(name) up\(run.upsample)")
                #expect(Self.sha256(work.pixels) == ri.upsampled_rgb_sha256, "\(name) up\(run.upsample): upsampled pixels")
                let pass = try detector.scoreMap(work)
                #expect([pass.pyramid.rows, pass.pyramid.columns] == ri.tiled_tensor_hw)
                #expect(pass.pyramid.rects.map { [$0.left, $0.top, $0.right, $0.bottom] } == ri.pyramid_rects_ltrb)
                #expect([pass.scoreRows, pass.scoreColumns] == ri.score_map_hw)
                #expect(abs(Double(pass.scores.max() ?? 0) - ri.score_max) < 1e-4)
                #expect(pass.scores.filter { $0 > 0 }.count == ri.num_scores_above_0)

                let found = try detector.detect(image, upsample: run.upsample)
                #expect(found.count == run.faces.count, "\(name) up\(run.upsample)")
                for (d, g) in zip(found, run.faces) {
                    #expect([d.box.left, d.box.top, d.box.right, d.box.bottom] == g.box_ltrb, "\(name) up\(run.upsample)")
                    #expect(abs(d.confidence - g.confidence) < 1e-4)
                }
            }
        }
    }

    @Test("pyramid layout for 640×480 (spec §5.3 example)")
    func layout() {
        let p = TiledPyramid(imageWidth: 640, imageHeight: 480)
        #expect(p.rows == 1782 && p.columns == 662 && p.rects.count == 24)
        #expect(p.rects[0] == Box(left: 11, top: 11, right: 650, bottom: 490))
        #expect(p.rects[1] == Box(left: 11, top: 501, right: 543, bottom: 900))
        #expect(p.rects[2] == Box(left: 11, top: 911, right: 454, bottom: 1243))
        #expect(p.rects.last == Box(left: 643, top: 512, right: 650, bottom: 516))
        #expect(DlibResize.upsampledSize(width: 640, height: 480) == (1282, 961))
    }

    @Test("tiny, flat and face-free images give no detections and no crash")
    func noFaces() throws {
        let detector = SharedModels.detector
        for (w, h) in [(1, 1), (4, 3), (5, 5), (30, 7), (64, 64)] {
            #expect(try detector.detect(RGBImage(width: w, height: h)).isEmpty, "\(w)x\(h)")
        }
        let gray = RGBImage(width: 200, height: 150, pixels: [UInt8](repeating: 128, count: 200 * 150 * 3))
        #expect(try detector.detect(gray, upsample: 1).isEmpty)
    }
}
