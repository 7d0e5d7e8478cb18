import Foundation
import Testing
import ArgusImaging
import ArgusNN
@testable import ArgusFace

/// Detector, landmarks, chips and descriptors end to end against dlib on ../shared/faces photos.
@Suite("Face pipeline faithfulness on ../shared/faces (fixtures/reference)")
struct EndToEndReferenceTests {
    @Test("same faces found; boxes IoU ≥ 0.99; landmarks within 1 px; chips ±1; descriptors cos ≥ 0.999",
          .enabled(if: TestPaths.hasFaces))
    func endToEnd() throws {
        let reference = try ReferenceFacesTests.reference()
        let decoder = ImageDecoder(), aligner = FaceAligner()
        var worstIoU = 1.0, worstLandmark = 0.0, worstCos = 1.0, faces = 0
        for image in reference.images {
            let rgb = try decoder.decode(fileAt: TestPaths.shared.appendingPathComponent("faces/\(image.path)").path)
            let found = try SharedModels.detector.detect(rgb, upsample: image.upsample)
            #expect(found.count == image.faces.count, "\(image.path): \(found.count) faces, dlib \(image.faces.count)")
            for (d, face) in zip(found, image.faces) {
                faces += 1
                let dlibBox = Box(left: face.box[0], top: face.box[1], right: face.box[2], bottom: face.box[3])
                worstIoU = min(worstIoU, d.box.iou(dlibBox))
                #expect(d.box.iou(dlibBox) >= 0.99, "\(image.path): box \(d.box) vs dlib \(dlibBox)")
                #expect(abs(d.confidence - face.confidence) < 1e-4)
                // Landmarks on dlib's own box isolate the predictor from the detector.
                let onDlibBox = SharedModels.landmarks.landmarks(in: rgb, box: dlibBox)
                for (p, q) in zip(onDlibBox, face.landmarks) {
                    let dist = max(abs(p.x - Double(q[0])), abs(p.y - Double(q[1])))
                    worstLandmark = max(worstLandmark, dist)
                    #expect(dist <= 1, "\(image.path): landmark \(p) vs dlib \(q)")
                }
                // End to end: our box → our landmarks → our chip → our descriptor.
                let ours = SharedModels.landmarks.landmarks(in: rgb, box: d.box)
                let chip = aligner.chip(from: rgb, landmarks: ours)
                let descriptor = try SharedModels.embedder.descriptor(for: chip)
                let c = cosine(descriptor, face.descriptor)
                worstCos = min(worstCos, c)
                #expect(c >= 0.999, "\(image.path): end-to-end cos \(c)")
            }
        }
        print("end to end: \(faces) faces, worst box IoU \(worstIoU), worst landmark offset \(worstLandmark) px, worst cos \(worstCos)")
    }

    @Test("golden landmarks on dlib's boxes are identical", .enabled(if: TestPaths.hasGolden))
    func goldenLandmarks() throws {
        struct Face: Decodable { let box_ltrb: [Int]; let landmarks_5: [[Int]] }
        struct Run: Decodable { let faces: [Face] }
        struct Entry: Decodable { let runs: [Run] }
        struct Golden: Decodable { let files: [String: Entry] }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden.appendingPathComponent("golden.json")))
        for (name, entry) in golden.files {
            let rgb = try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent(name).path)
            for face in entry.runs.flatMap(\.faces) {
                let b = face.box_ltrb
                let got = SharedModels.landmarks.landmarks(in: rgb, box: Box(left: b[0], top: b[1], right: b[2], bottom: b[3]))
                #expect(got.map { [Int($0.x), Int($0.y)] } == face.landmarks_5, "\(name)")
            }
        }
    }

    @Test("a truncated landmark model is refused")
    func truncatedModel() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestPaths.models.file(ModelDirectory.landmarksFile))))
        #expect(throws: ModelFileError.self) { try LandmarkPredictor(bytes: Array(bytes[0..<(bytes.count / 3)])) }
        #expect(throws: ModelFileError.self) { try LandmarkPredictor(bytes: bytes + [1]) }
    }
}
