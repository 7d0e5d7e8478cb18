import Foundation
import Testing
import ArgusImaging
@testable import ArgusFace

/// dlib's own descriptors for the chips in shared/tools/dlib_ref/golden.
@Suite("Descriptor faithfulness: dlib golden chips")
struct GoldenDescriptorTests {
    struct Face: Decodable {
        let chip_png: String
        let descriptor: [Double]
    }
    struct Run: Decodable { let upsample: Int; let faces: [Face] }
    struct Entry: Decodable { let runs: [Run] }
    struct Golden: Decodable { let files: [String: Entry] }

    static func faces() throws -> [Face] {
        let data = try Data(contentsOf: TestPaths.golden.appendingPathComponent("golden.json"))
        let golden = try JSONDecoder().decode(Golden.self, from: data)
        return golden.files.keys.sorted().flatMap { golden.files[$0]!.runs.flatMap(\.faces) }
    }

    @Test("every golden chip: cos ≥ 0.99999 and max |Δ| ≤ 1e-4, fast and reference kernels, single and batch",
          .enabled(if: TestPaths.hasGolden))
    func golden() throws {
        let faces = try Self.faces()
        #expect(faces.count == 3)
        let chips = try faces.map { try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent($0.chip_png).path) }
        let embedder = SharedModels.embedder
        let batch = try embedder.descriptors(for: chips)
        let reference = try embedder.descriptors(for: chips, mode: .reference, threads: 1)
        for (i, face) in faces.enumerated() {
            let single = try embedder.descriptor(for: chips[i])
            for (label, d) in [("batch", batch[i]), ("single", single), ("reference kernels", reference[i])] {
                #expect(d.count == 128)
                let c = cosine(d, face.descriptor), m = maxAbsDifference(d, face.descriptor)
                #expect(c >= 0.99999, "\(face.chip_png) \(label): cos \(c)")
                #expect(m <= 1e-4, "\(face.chip_png) \(label): max |Δ| \(m)")
            }
        }
    }

    @Test("chips of the wrong size are refused")
    func wrongSize() throws {
        #expect(throws: FaceAnalysisError.wrongChipSize(width: 149, height: 150)) {
            try SharedModels.embedder.descriptor(for: RGBImage(width: 149, height: 150))
        }
        #expect(try SharedModels.embedder.descriptors(for: []).isEmpty)
    }

    @Test("templates are the descriptors at unit length")
    func templates() {
        let t = FaceEmbedder.template(from: [3, 4])
        #expect(abs(t[0] - 0.6) < 1e-7 && abs(t[1] - 0.8) < 1e-7)
    }
}
