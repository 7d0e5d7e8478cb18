import Foundation
import Testing
import ArgusImaging
@testable import ArgusFace

@Suite("Face pipeline: policies, quality gate, bad input")
struct PipelineTests {
    static let pipeline = FacePipeline(detector: SharedModels.detector, landmarks: SharedModels.landmarks, embedder: SharedModels.embedder)

    static func golden(_ name: String) throws -> RGBImage {
        try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent(name).path)
    }

    /// Two copies of a face photo side by side.
    static func twoFaces(_ image: RGBImage) -> RGBImage {
        var out = RGBImage(width: image.width * 2, height: image.height)
        for y in 0..<image.height {
            for x in 0..<(image.width * 2) {
                let s = (y * image.width + x % image.width) * 3, d = (y * out.width + x) * 3
                for c in 0..<3 { out.pixels[d + c] = image.pixels[s + c] }
            }
        }
        return out
    }

    @Test("one face: analysed, gated, enrolled with a unit-length template", .enabled(if: TestPaths.hasGolden))
    func singleFace() throws {
        let image = try Self.golden("astronaut_crop_256x256.png")
        let face = try Self.pipeline.enrollmentFace(image)
        #expect(face.box == Box(left: 72, top: 31, right: 167, bottom: 126) || face.box.iou(Box(left: 72, top: 31, right: 167, bottom: 126)) > 0.5)
        let t = try #require(face.template)
        #expect(abs(t.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(face.quality.passes)
    }

    @Test("several faces: refused under `single`, the largest taken under `largest`", .enabled(if: TestPaths.hasGolden))
    func severalFaces() throws {
        let image = Self.twoFaces(try Self.golden("astronaut_crop_256x256.png"))
        #expect(throws: FaceAnalysisError.multipleFaces(count: 2)) { try Self.pipeline.enrollmentFace(image, policy: .single) }
        let face = try Self.pipeline.enrollmentFace(image, policy: .largest)
        #expect(face.descriptor?.count == 128)
    }

    @Test("no face, and faces that fail the gate, are refused with reasons", .enabled(if: TestPaths.hasGolden))
    func refusals() throws {
        let flat = RGBImage(width: 300, height: 200, pixels: [UInt8](repeating: 90, count: 300 * 200 * 3))
        #expect(throws: FaceAnalysisError.noFace) { try Self.pipeline.enrollmentFace(flat) }
        // The same face, darkened until it fails the brightness gate.
        var dark = try Self.golden("astronaut_crop_256x256.png")
        dark.pixels = dark.pixels.map { $0 / 8 }
        let faces = try Self.pipeline.analyze(dark, embed: false)
        if let face = faces.first {
            #expect(face.quality.reasons.contains(.lowBrightness))
            #expect(throws: FaceAnalysisError.self) { try Self.pipeline.enrollmentFace(dark) }
        }
        // A strict size gate refuses a face that is otherwise fine.
        var strict = FacePipeline.Options()
        strict.quality.minFaceSize = 500
        #expect(throws: FaceAnalysisError.lowQuality([.smallBoundingBox])) {
            try Self.pipeline.with(options: strict).enrollmentFace(try Self.golden("astronaut_crop_256x256.png"))
        }
    }

    @Test("blurring lowers the sharpness score", .enabled(if: TestPaths.hasGolden))
    func sharpness() throws {
        let image = try Self.golden("astronaut_crop_256x256.png")
        let sharp = try #require(try Self.pipeline.analyze(image, embed: false).first)
        // A 4× box blur: down and up again.
        let blurred = image.resized(width: image.width / 4, height: image.height / 4).resized(width: image.width, height: image.height)
        let soft = try #require(try Self.pipeline.analyze(blurred, embed: false).first)
        #expect(soft.quality.sharpness < sharp.quality.sharpness / 2)
    }

    @Test("large photos are detected on a reduced copy and mapped back", .enabled(if: TestPaths.hasGolden))
    func largePhoto() throws {
        let image = try Self.golden("astronaut_crop_256x256.png")
        let big = DlibResize.resize(image, width: 2048, height: 2048)
        var options = FacePipeline.Options()
        options.maxDetectionSide = 512
        let faces = try Self.pipeline.with(options: options).analyze(big, embed: false)
        #expect(faces.count == 1)
        let expected = Box(left: 72 * 8, top: 31 * 8, right: 167 * 8 + 7, bottom: 126 * 8 + 7)
        #expect((faces.first?.box.iou(expected) ?? 0) > 0.8)
    }
}
