import Crypto
import Foundation
import Testing
import ArgusImaging
@testable import ArgusFace

/// dlib's numbers for photos of ../shared/faces, recorded by scripts/make-reference into
/// fixtures/reference/faces.json; the photos themselves are read from ../shared at test time.
@Suite("Faithfulness on ../shared/faces photos (fixtures/reference)")
struct ReferenceFacesTests {
    struct Face: Decodable {
        let box: [Int]
        let confidence: Double
        let landmarks: [[Int]]
        let chip_sha256: String
        let descriptor: [Double]
    }
    struct Image: Decodable {
        let path: String
        let upsample: Int
        let rgb_sha256: String
        let faces: [Face]
    }
    struct Reference: Decodable { let images: [Image] }

    static func reference() throws -> Reference {
        let url = TestPaths.repoRoot.appendingPathComponent("fixtures/reference/faces.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test("≥ 50 faces: our decoder, dlib's landmarks → our chip (byte-identical) → our descriptor (cos ≥ 0.99999, |Δ| ≤ 1e-4)",
          .enabled(if: TestPaths.hasFaces))
    func chipsAndDescriptors() throws {
        let reference = try Self.reference()
        let decoder = ImageDecoder()
        let aligner = FaceAligner()
        var chips: [RGBImage] = [], expected: [(String, Face)] = []
        var decodeMismatches = 0
        for image in reference.images {
            let rgb = try decoder.decode(fileAt: TestPaths.shared.appendingPathComponent("faces/\(image.path)").path)
            if Self.sha256(rgb.pixels) != image.rgb_sha256 { decodeMismatches += 1 }
            for face in image.faces {
                let chip = aligner.chip(from: rgb, landmarks: face.landmarks.map { Point(x: Double($0[0]), y: Double($0[1])) })
                #expect(Self.sha256(chip.pixels) == face.chip_sha256, "\(image.path): chip differs from dlib's")
                chips.append(chip)
                expected.append((image.path, face))
            }
        }
        // libjpeg-turbo here and in PIL decode these baseline JPEGs to the same pixels.
        #expect(decodeMismatches == 0, "\(decodeMismatches) photos decode differently from PIL")
        #expect(chips.count >= 50)
        let descriptors = try SharedModels.embedder.descriptors(for: chips)
        var worstCos = 1.0, worstDelta = 0.0
        for (d, (path, face)) in zip(descriptors, expected) {
            let c = cosine(d, face.descriptor), m = maxAbsDifference(d, face.descriptor)
            worstCos = min(worstCos, c)
            worstDelta = max(worstDelta, m)
            #expect(c >= 0.99999 && m <= 1e-4, "\(path): cos \(c), max |Δ| \(m)")
        }
        print("reference faces: \(chips.count), worst cos \(worstCos), worst max |Δ| \(worstDelta)")

        // The optional bf16 precision (off by default): its cost, measured against dlib and against fp32.
        let bf16 = try FaceEmbedder(models: TestPaths.models, precision: .bf16).descriptors(for: chips)
        #expect(bf16.count == descriptors.count)
        var worstToDlib = 1.0, worstToFP32 = 1.0, meanToFP32 = 0.0
        for (i, d) in bf16.enumerated() {
            worstToDlib = min(worstToDlib, cosine(d, expected[i].1.descriptor))
            let c = cosine(d, descriptors[i].map(Double.init))
            worstToFP32 = min(worstToFP32, c)
            meanToFP32 += c / Double(bf16.count)
        }
        #expect(worstToFP32 < 1, "bf16 rounds: not equal to fp32")
        #expect(worstToFP32 >= 0.999, "bf16 worst cosine to fp32 \(worstToFP32)")
        print("bf16 on the reference faces: worst cos to fp32 \(worstToFP32), mean \(meanToFP32); worst cos to dlib \(worstToDlib)")
    }
}
