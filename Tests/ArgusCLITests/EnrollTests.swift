import ArgusImaging
import ArgusStore
import Foundation
import Testing

/// `argus enroll` end to end: outcomes, report, resume after kill -9 at random moments, store lock.
@Suite("argus enroll", .serialized)
struct EnrollTests {
    static var faces: URL { CLITests.shared.appendingPathComponent("faces/images") }
    static var hasFaces: Bool {
        let present = FileManager.default.fileExists(atPath: faces.path)
        if !present { print("skipping: \(faces.path) is absent") }
        return present
    }

    /// A small archive: subjects with photos copied from ../shared/faces, plus problem files.
    static func archive(subjects: Int, photosEach: Int, extras: Bool) throws -> URL {
        let root = try CLITests.temporaryDirectory().appendingPathComponent("archive")
        let people = try FileManager.default.contentsOfDirectory(atPath: faces.path).sorted().filter {
            ((try? FileManager.default.contentsOfDirectory(atPath: faces.appendingPathComponent($0).path).count) ?? 0) >= photosEach
        }
        for person in people.prefix(subjects) {
            let folder = root.appendingPathComponent(person)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: faces.appendingPathComponent(person).path).sorted().prefix(photosEach) {
                try FileManager.default.copyItem(at: faces.appendingPathComponent("\(person)/\(file)"), to: folder.appendingPathComponent(file))
            }
        }
        if extras {
            let odd = root.appendingPathComponent("zz_problems")
            try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
            try Data("not a photo".utf8).write(to: odd.appendingPathComponent("notes.jpg"))
            try Data(try ImageEncoder.png(RGBImage(width: 200, height: 200, pixels: [UInt8](repeating: 128, count: 200 * 200 * 3))))
                .write(to: odd.appendingPathComponent("empty.png"))
            let face = try ImageDecoder().decode(fileAt: faces.appendingPathComponent("Hugo_Chavez/0001.jpg").path)
            var two = RGBImage(width: face.width * 2, height: face.height)
            for y in 0..<face.height { for x in 0..<two.width { for c in 0..<3 { two.pixels[(y * two.width + x) * 3 + c] = face.pixels[(y * face.width + x % face.width) * 3 + c] } } }
            try Data(try ImageEncoder.jpeg(two)).write(to: odd.appendingPathComponent("two.jpg"))
            // The same person filed under another name: a duplicate candidate.
            try FileManager.default.copyItem(at: faces.appendingPathComponent("Hugo_Chavez/0002.jpg"), to: odd.appendingPathComponent("hugo_again.jpg"))
        }
        return root
    }

    static func report(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// (subject external id, photo digest, template) of every enrolled face, sorted: what two runs must agree on.
    static func snapshot(_ dataDirectory: String) throws -> [(subject: String, digest: String, template: [Float])] {
        let store = try SQLiteStore(dataDirectory: dataDirectory, environment: [:], create: false)
        var out: [(subject: String, digest: String, template: [Float])] = []
        var faces: [FaceTemplate] = []
        try store.forEachFace(tenant: store.defaultTenantID, mode: .test) { faces.append($0) }
        for face in faces {
            let external = try store.subject(tenant: face.tenantID, mode: face.mode, id: face.subjectID)?.externalID
            out.append((external ?? face.subjectID, face.imageSHA256 ?? "", face.template))
        }
        return out.sorted { ($0.subject, $0.digest) < ($1.subject, $1.digest) }
    }

    @Test("outcomes per photo in the report; a re-run skips what is enrolled", .enabled(if: hasFaces))
    func outcomes() throws {
        let archive = try Self.archive(subjects: 3, photosEach: 2, extras: true)
        let data = archive.deletingLastPathComponent().appendingPathComponent("data").path
        let reportPath = archive.deletingLastPathComponent().appendingPathComponent("report.jsonl").path
        defer { try? FileManager.default.removeItem(at: archive.deletingLastPathComponent()) }
        // Hugo must be in the gallery for the dedup check: enrol him first.
        let hugo = archive.appendingPathComponent("Hugo_Chavez")
        try FileManager.default.createDirectory(at: hugo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.faces.appendingPathComponent("Hugo_Chavez/0001.jpg"), to: hugo.appendingPathComponent("0001.jpg"))

        let run = try CLITests.run(["enroll", archive.path, "--data-dir", data, "--report", reportPath, "--dedup"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("progress"))  // not a terminal: progress lines
        let lines = try Self.report(reportPath)
        #expect(lines.count == 3 * 2 + 1 + 4)
        for line in lines { for key in ["path", "subject", "outcome", "reason"] { #expect(line[key] != nil) } }
        func outcome(_ suffix: String) -> String? { lines.first { ($0["path"] as? String)?.hasSuffix(suffix) == true }?["outcome"] as? String }
        #expect(outcome("notes.jpg") == "decode_error")
        #expect(outcome("empty.png") == "no_face")
        #expect(outcome("two.jpg") == "multiple_faces")
        #expect(outcome("hugo_again.jpg") == "duplicate_candidate")
        #expect(lines.filter { $0["outcome"] as? String == "enrolled" }.count == 3 * 2 + 1)

        let again = try CLITests.run(["enroll", archive.path, "--data-dir", data, "--report", reportPath])
        #expect(again.status == 0)
        let second = try Self.report(reportPath)
        #expect(second.filter { $0["outcome"] as? String == "skipped_already_enrolled" }.count == 3 * 2 + 2)

        let largest = try CLITests.run(["enroll", archive.path, "--data-dir", data, "--report", reportPath, "--largest-face"])
        #expect(largest.status == 0)
        #expect(try Self.report(reportPath).first { ($0["path"] as? String)?.hasSuffix("two.jpg") == true }?["outcome"] as? String == "enrolled")

        let missing = try CLITests.run(["enroll", archive.appendingPathComponent("nope").path, "--data-dir", data])
        #expect(missing.status != 0)
    }

    @Test("kill -9 at random moments, then re-run: the same gallery as one uninterrupted run", .enabled(if: hasFaces))
    func killAndResume() throws {
        let archive = try Self.archive(subjects: 8, photosEach: 3, extras: false)
        let work = archive.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let reference = work.appendingPathComponent("reference").path
        #expect(try CLITests.run(["enroll", archive.path, "--data-dir", reference, "--quiet"]).status == 0)
        let expected = try Self.snapshot(reference)
        #expect(expected.count >= 18)  // a few of these photos are refused (several faces, no face)

        var rng = SystemRandomNumberGenerator()
        for attempt in 0..<4 {
            let data = work.appendingPathComponent("run\(attempt)").path
            // Kill once or twice at random moments, then finish.
            for _ in 0..<(1 + attempt % 2) {
                let process = Process()
                process.executableURL = CLITests.binary
                process.arguments = ["enroll", archive.path, "--data-dir", data, "--quiet"]
                // The same environment as the other runs: OpenBLAS picks its kernels from it (OPENBLAS_CORETYPE),
                // and a run with other kernels differs in the last bits of its templates.
                process.environment = ProcessInfo.processInfo.environment.merging(
                    ["ARGUS_MODELS": CLITests.root.appendingPathComponent("models").path]) { $1 }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                Thread.sleep(forTimeInterval: Double.random(in: 0.3...2.5, using: &rng))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            #expect(try CLITests.run(["enroll", archive.path, "--data-dir", data, "--quiet"]).status == 0)
            let got = try Self.snapshot(data)
            #expect(got.count == expected.count, "attempt \(attempt)")
            #expect(zip(got, expected).allSatisfy { $0.subject == $1.subject && $0.digest == $1.digest && $0.template == $1.template },
                    "attempt \(attempt): galleries differ")
        }
    }

    @Test("Ctrl-C stops after committing the photos in flight; the report holds every committed photo", .enabled(if: hasFaces))
    func interrupt() throws {
        let archive = try Self.archive(subjects: 8, photosEach: 3, extras: false)
        let work = archive.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path, reportPath = work.appendingPathComponent("r.jsonl").path
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["enroll", archive.path, "--data-dir", data, "--report", reportPath, "--quiet"]
        process.environment = ["ARGUS_MODELS": CLITests.root.appendingPathComponent("models").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Interrupted once enrolment is under way (the models load first: a slow machine may take a
        // while), not at a fixed moment that may fall before the report exists.
        for _ in 0..<600 where process.isRunning && ((try? Self.report(reportPath).count) ?? 0) == 0 {
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let lines = try Self.report(reportPath)
        if process.terminationStatus == 130 {
            #expect(lines.count < 24)
            let enrolled = lines.filter { $0["outcome"] as? String == "enrolled" }.count
            #expect(try Self.snapshot(data).count == enrolled)
        } else {
            #expect(process.terminationStatus == 0 && lines.count == 24)  // finished before the signal
        }
    }

    /// `argus serve` on a fresh store in `work`: the process, its port and its first key.
    static func startServer(in work: URL) throws -> (Process, Int, String) {
        let port = try freePort()
        let log = work.appendingPathComponent("serve.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let server = Process()
        server.executableURL = CLITests.binary
        server.arguments = ["serve", "--data-dir", work.appendingPathComponent("served").path, "--port", "\(port)", "--log-level", "warning"]
        server.environment = ProcessInfo.processInfo.environment.merging(["ARGUS_MODELS": CLITests.root.appendingPathComponent("models").path]) { $1 }
        server.standardOutput = FileHandle(forWritingAtPath: log)
        server.standardError = FileHandle.nullDevice
        try server.run()
        var key: String?
        for _ in 0..<200 where key == nil {
            Thread.sleep(forTimeInterval: 0.1)
            key = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
                .first { $0.hasPrefix("sk_test_") }.map(String.init)
        }
        // The key is printed before the listener is bound: ready once /healthz answers.
        var ready = false
        for _ in 0..<300 where key != nil && !ready && server.isRunning {
            ready = answersHealth(port: port)
            if !ready { Thread.sleep(forTimeInterval: 0.1) }
        }
        guard let key, ready else {
            server.terminate()
            throw CocoaError(.fileReadUnknown)
        }
        return (server, port, key)
    }

    /// A port nothing listens on now: the kernel's choice for a bind to port 0.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when `GET /healthz` on 127.0.0.1:`port` answers 200.
    static func answersHealth(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return false }
        let request = Array("GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 12 && String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.") && String(decoding: buffer[9..<12], as: UTF8.self) == "200"
    }

    @Test("--server and --data-dir are one enrolment path: the same outcomes and duplicates with --dedup --largest-face --min-face-size, uploads in parallel",
          .enabled(if: hasFaces))
    func sameOutcomesBothWays() throws {
        let archive = try Self.archive(subjects: 3, photosEach: 2, extras: true)
        let work = archive.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let hugo = archive.appendingPathComponent("Hugo_Chavez")
        try FileManager.default.createDirectory(at: hugo, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.faces.appendingPathComponent("Hugo_Chavez/0001.jpg"), to: hugo.appendingPathComponent("0001.jpg"))
        let flags = ["--dedup", "--largest-face", "--min-face-size", "50", "--quiet"]
        let local = work.appendingPathComponent("local.jsonl").path, remote = work.appendingPathComponent("remote.jsonl").path
        let direct = try CLITests.run(["enroll", archive.path, "--data-dir", work.appendingPathComponent("data").path, "--report", local] + flags)
        #expect(direct.status == 0, "\(direct.stderr)")
        // argus identify searches the store directly, through the same subject search.
        let person = try #require(try FileManager.default.contentsOfDirectory(atPath: archive.path).sorted().first)
        let photo = try #require(try FileManager.default.contentsOfDirectory(atPath: archive.appendingPathComponent(person).path).sorted().first)
        let found = try CLITests.run(["identify", "--data-dir", work.appendingPathComponent("data").path,
                                      archive.appendingPathComponent("\(person)/\(photo)").path, "--json"])
        #expect(found.status == 0, "\(found.stderr)")
        let answer = try #require(found.jsonLines.first)
        let best = try #require((answer["candidates"] as? [[String: Any]])?.first)
        #expect(best["external_id"] as? String == person && (best["score"] as? Double ?? 0) > 0.99 && answer["decision"] as? String == "match")
        let committed = try Self.report(local).filter { ["enrolled", "duplicate_candidate"].contains($0["outcome"] as? String ?? "") }.count
        #expect(committed >= 7 && answer["gallery_size"] as? Int == committed)
        let (server, port, secret) = try Self.startServer(in: work)
        defer { server.terminate(); server.waitUntilExit() }
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = ["enroll", archive.path, "--server", "http://127.0.0.1:\(port)", "--report", remote, "--jobs", "2"] + flags
        p.environment = ["ARGUS_API_KEY": secret]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        func summary(_ path: String) throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try Self.report(path).map { line in
                let candidates = ((line["candidates"] as? [[String: Any]]) ?? []).compactMap { $0["subject"] as? String }.sorted()
                return ((line["path"] as? String) ?? "", "\((line["outcome"] as? String) ?? "") \(candidates)")
            })
        }
        let a = try summary(local), b = try summary(remote)
        #expect(a.count == 3 * 2 + 1 + 4)
        #expect(a == b)
        // --largest-face took a face of the two-face photo; dedup found Hugo in it and in his other photo.
        #expect(a.first { $0.key.hasSuffix("two.jpg") }?.value == "duplicate_candidate [\"Hugo_Chavez\"]")
        #expect(a.first { $0.key.hasSuffix("hugo_again.jpg") }?.value.hasPrefix("duplicate_candidate") == true)
    }

    @Test("--server enrols through a running server with ARGUS_API_KEY, and a re-run skips what is enrolled",
          .enabled(if: hasFaces && FileManager.default.fileExists(atPath: "/usr/bin/curl")))
    func throughServer() throws {
        let archive = try Self.archive(subjects: 2, photosEach: 2, extras: false)
        let work = archive.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let (server, port, secret) = try Self.startServer(in: work)
        defer { server.terminate(); server.waitUntilExit() }
        func enrol(_ report: String) throws -> CLITests.Run {
            let p = Process()
            p.executableURL = CLITests.binary
            p.arguments = ["enroll", archive.path, "--server", "http://127.0.0.1:\(port)", "--report", report]
            p.environment = ["ARGUS_API_KEY": secret]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return CLITests.Run(status: p.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: "")
        }
        let first = work.appendingPathComponent("first.jsonl").path, second = work.appendingPathComponent("second.jsonl").path
        #expect(try enrol(first).status == 0)
        #expect(try Self.report(first).filter { $0["outcome"] as? String == "enrolled" }.count == 4)
        #expect(try enrol(second).status == 0)
        let rerun = try Self.report(second)
        #expect(rerun.count == 4 && rerun.allSatisfy { $0["outcome"] as? String == "skipped_already_enrolled" })
        // Without the key in the environment it refuses to run.
        #expect(try CLITests.run(["enroll", archive.path, "--server", "http://127.0.0.1:\(port)"]).status != 0)
    }

    @Test("a store held by a running server is refused", .enabled(if: hasFaces))
    func refusedWhileServed() throws {
        let archive = try Self.archive(subjects: 1, photosEach: 1, extras: false)
        let data = archive.deletingLastPathComponent().appendingPathComponent("data").path
        defer { try? FileManager.default.removeItem(at: archive.deletingLastPathComponent()) }
        let held = try StoreLock(dataDirectory: data)
        let run = try CLITests.run(["enroll", archive.path, "--data-dir", data])
        #expect(run.status != 0 && run.stderr.contains("in use by a running argus serve"))
        withExtendedLifetime(held) {}
    }
}
