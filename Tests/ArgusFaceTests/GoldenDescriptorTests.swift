import Foundation
import Testing
import ArgusImaging
import ArgusNN
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

    @Test("every golden chip: cos ≥ 0.99999 and max |Δ| ≤ 1e-4, reference, BLAS and direct kernels on every instruction set, single and batch",
          .enabled(if: TestPaths.hasGolden))
    func golden() throws {
        let faces = try Self.faces()
        #expect(faces.count == 3)
        let chips = try faces.map { try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent($0.chip_png).path) }
        let embedder = SharedModels.embedder
        var results: [(String, [[Float]])] = [
            ("reference kernels", try embedder.descriptors(for: chips, mode: .reference, threads: 1)),
            ("im2col + sgemm", try embedder.descriptors(for: chips, mode: .blas)),
        ]
        let sets = InstructionSet.allCases.filter(\.isSupported)
        #expect(sets.count >= 2)
        for isa in sets {
            let direct = try FaceEmbedder(models: TestPaths.models, kernels: isa)
            results.append(("\(isa.rawValue) batch", try direct.descriptors(for: chips)))
            results.append(("\(isa.rawValue) single, 2 threads", try chips.map { try direct.descriptors(for: [$0], threads: 2)[0] }))
        }
        for (i, face) in faces.enumerated() {
            for (label, d) in results.map({ ($0.0, $0.1[i]) }) {
                #expect(d.count == 128)
                let c = cosine(d, face.descriptor), m = maxAbsDifference(d, face.descriptor)
                #expect(c >= 0.99999, "\(face.chip_png) \(label): cos \(c)")
                #expect(m <= 1e-4, "\(face.chip_png) \(label): max |Δ| \(m)")
            }
        }
    }

    @Test("bf16 precision on the golden chips: cosine to fp32 and to dlib, measured", .enabled(if: TestPaths.hasGolden))
    func bf16() throws {
        let faces = try Self.faces()
        #expect(faces.count == 3)
        let chips = try faces.map { try ImageDecoder().decode(fileAt: TestPaths.golden.appendingPathComponent($0.chip_png).path) }
        let fp32 = try SharedModels.embedder.descriptors(for: chips)
        let bf16 = try FaceEmbedder(models: TestPaths.models, precision: .bf16).descriptors(for: chips)
        for (i, face) in faces.enumerated() {
            let toFP32 = cosine(bf16[i], fp32[i].map(Double.init)), toDlib = cosine(bf16[i], face.descriptor)
            #expect(toFP32 >= 0.999 && toFP32 < 1, "\(face.chip_png): bf16 cos to fp32 \(toFP32)")
            print("bf16 golden \(face.chip_png): cos to fp32 \(toFP32), to dlib \(toDlib)")
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
