import Foundation
import Testing
import ArgusImaging

/// End-to-end runs of the built `argus` binary: exit codes, JSON shapes, error messages.
@Suite("argus command line")
struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var binary: URL {
        // The test bundle sits beside the executable in .build/<config>/.
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("argus").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("argus")
    }
    static var shared: URL {
        ProcessInfo.processInfo.environment["ARGUS_SHARED"].map { URL(fileURLWithPath: $0) }
            ?? root.deletingLastPathComponent().appendingPathComponent("shared")
    }
    static var golden: URL { shared.appendingPathComponent("tools/dlib_ref/golden") }
    static var hasGolden: Bool {
        let present = FileManager.default.fileExists(atPath: golden.appendingPathComponent("golden.json").path)
        if !present { print("skipping: \(golden.path) is absent") }
        return present
    }

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        var jsonLines: [[String: Any]] {
            stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ARGUS_MODELS"] = environment["ARGUS_MODELS"] ?? root.appendingPathComponent("models").path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("detect --json follows dlib's conventions on the golden photo", .enabled(if: hasGolden))
    func detect() throws {
        let r = try Self.run(["detect", Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path, "--json"])
        #expect(r.status == 0)
        let line = try #require(r.jsonLines.first)
        let faces = try #require(line["faces"] as? [[String: Any]])
        #expect(faces.count == 1)
        #expect(faces.first?["box"] as? [Int] == [72, 31, 167, 126])
        #expect((faces.first?["landmarks"] as? [[Int]]) == [[155, 64], [138, 64], [95, 61], [112, 63], [124, 95]])
        #expect(faces.first?["descriptor"] == nil)
        let up = try Self.run(["detect", Self.golden.appendingPathComponent("obama_320x240.png").path, "--upsample", "1", "--json"])
        let upFaces = try #require(up.jsonLines.first?["faces"] as? [[String: Any]])
        #expect(upFaces.first?["box"] as? [Int] == [128, 1, 210, 82])
    }

    @Test("embed --json gives dlib's descriptor for photos and chips", .enabled(if: hasGolden))
    func embed() throws {
        let photo = try Self.run(["embed", Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path, "--json"])
        let face = try #require((photo.jsonLines.first?["faces"] as? [[String: Any]])?.first)
        #expect((face["descriptor"] as? [Double])?.count == 128)
        let chip = try Self.run(["embed", "--chip", Self.golden.appendingPathComponent("astronaut_crop_256x256_up0_face0_chip.png").path, "--json"])
        let line = try #require(chip.jsonLines.first)
        let template = try #require(line["template"] as? [Double])
        #expect(abs(template.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        // The photo's own chip and the golden chip are the same pixels, so the same descriptor.
        let a = try #require(face["descriptor"] as? [Double]), b = try #require(line["descriptor"] as? [Double])
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("unreadable files, text files, no face and several faces give clear errors", .enabled(if: hasGolden))
    func errors() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.jpg")
        try Data("hello".utf8).write(to: text)
        let flat = dir.appendingPathComponent("flat.png")
        try Data(try ImageEncoder.png(RGBImage(width: 200, height: 200, pixels: [UInt8](repeating: 120, count: 200 * 200 * 3)))).write(to: flat)
        let face = try ImageDecoder().decode(fileAt: Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path)
        var pair = RGBImage(width: face.width * 2, height: face.height)
        for y in 0..<face.height { for x in 0..<pair.width { for c in 0..<3 { pair.pixels[(y * pair.width + x) * 3 + c] = face.pixels[(y * face.width + x % face.width) * 3 + c] } } }
        let two = dir.appendingPathComponent("two.png")
        try Data(try ImageEncoder.png(pair)).write(to: two)

        let missing = try Self.run(["detect", dir.appendingPathComponent("missing.jpg").path, "--json"])
        #expect(missing.status == 1)
        #expect(missing.jsonLines.first?["code"] as? String == "invalid_image")
        let notImage = try Self.run(["detect", text.path])
        #expect(notImage.status == 1 && notImage.stderr.contains("unsupported image format"))
        let none = try Self.run(["detect", flat.path, "--json"])
        #expect(none.status == 0 && (none.jsonLines.first?["faces"] as? [Any])?.isEmpty == true)
        let noFace = try Self.run(["verify", flat.path, Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path])
        #expect(noFace.status == 1 && noFace.stderr.contains("no face found"))
        let several = try Self.run(["verify", two.path, Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path, "--policy", "single"])
        #expect(several.status == 1 && several.stderr.contains("2 faces found"))
        let usage = try Self.run(["detect", "--upsample", "9", flat.path])
        #expect(usage.status == 64)
    }

    @Test("verify, gallery build, identify and eval pairs on a small labelled set", .enabled(if: hasGolden))
    func verifyIdentifyEval() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let astronaut = Self.golden.appendingPathComponent("astronaut_crop_256x256.png").path
        let obama = Self.golden.appendingPathComponent("obama_320x240.png").path
        let same = try Self.run(["verify", astronaut, astronaut, "--json"])
        #expect(same.jsonLines.first?["match"] as? Bool == true)
        let different = try Self.run(["verify", astronaut, obama, "--json"])
        #expect(different.jsonLines.first?["match"] as? Bool == false)
        #expect((different.jsonLines.first?["threshold"] as? Double).map { abs($0 - 0.91) < 1e-6 } == true)

        for (subject, file) in [("astronaut", astronaut), ("obama", obama)] {
            let folder = dir.appendingPathComponent("people/\(subject)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: file, toPath: folder.appendingPathComponent("1.png").path)
        }
        let galleryPath = dir.appendingPathComponent("g.gallery").path
        let build = try Self.run(["gallery", "build", dir.appendingPathComponent("people").path, "--out", galleryPath])
        #expect(build.status == 0 && build.stdout.contains("2 templates"))
        let identify = try Self.run(["identify", "--gallery", galleryPath, obama, "--json"])
        let result = try #require(identify.jsonLines.first)
        #expect((result["candidates"] as? [[String: Any]])?.first?["subject_id"] as? String == "obama")
        #expect(result["decision"] as? String == "match")

        let pairs = dir.appendingPathComponent("pairs.tsv")
        try "\(astronaut)\t\(astronaut)\t1\n\(astronaut)\t\(obama)\t0\n".write(to: pairs, atomically: true, encoding: .utf8)
        let eval = try Self.run(["eval", "pairs", pairs.path, "--root", "/", "--out-dir", dir.appendingPathComponent("out").path, "--json"])
        let metrics = try #require(eval.jsonLines.first)
        for key in ["pairs", "accuracy", "threshold", "best_accuracy", "tar_at_far_1e-3", "no_face"] { #expect(metrics[key] != nil, "\(key)") }
        #expect(metrics["accuracy"] as? Double == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/roc.svg").path))
    }

    @Test("bench embed --json prints ms_per_chip, batch and threads")
    func benchEmbed() throws {
        let r = try Self.run(["bench", "embed", "--batch", "2", "--repeats", "1", "--json"])
        let line = try #require(r.jsonLines.first)
        #expect(line["ms_per_chip"] is Double && line["batch"] as? Int == 2 && line["threads"] is Int)
    }
}
