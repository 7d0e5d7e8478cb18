import Foundation
import Testing

/// A real `argus serve` process, killed with SIGKILL right after it acknowledged an enrolment.
@Suite("ABIS service: durability", .serialized)
struct DurabilityTests {
    static var binary: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("argus").path) { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("argus")
    }

    static func freePort() -> Int { Int.random(in: 20_000...40_000) }

    static func curl(_ args: [String]) throws -> (status: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-w", "\n%{http_code}", "--max-time", "60"] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Starts the server with its standard output going to `log` (a file, never a pipe that could fill or block).
    static func start(dataDir: String, port: Int, log: String) throws -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = ["serve", "--data-dir", dataDir, "--port", "\(port)", "--models", ServiceHarness.models, "--log-level", "warning"]
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle.nullDevice
        try p.run()
        for _ in 0..<200 {
            if (try? curl(["http://127.0.0.1:\(port)/healthz"]))?.status == 200 { return p }
            Thread.sleep(forTimeInterval: 0.1)
        }
        p.terminate()
        throw CocoaError(.featureUnsupported)
    }

    @Test("kill -9 right after acknowledged enrolments, restart: every acknowledged face is there and matches",
          .enabled(if: ServiceHarness.hasFaces && FileManager.default.fileExists(atPath: "/usr/bin/curl")))
    func killNine() throws {
        let dir = try ServiceHarness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = Self.freePort()
        var server = try Self.start(dataDir: dir, port: port, log: dir + "/first.log")
        // The first start prints the key.
        let banner = (try? String(contentsOfFile: dir + "/first.log", encoding: .utf8)) ?? ""
        guard let key = banner.split(whereSeparator: { $0 == " " || $0 == "\n" }).first(where: { $0.hasPrefix("sk_test_") }).map(String.init) else {
            server.terminate()
            Issue.record("no first key in the banner: \(banner)")
            return
        }
        let base = "http://127.0.0.1:\(port)"
        let created = try Self.curl(["-X", "POST", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                                     "-d", "{\"external_id\":\"durable\"}", "\(base)/v1/subjects"])
        let subject = try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["id"] as? String)
        var acknowledged: [String] = []
        for photo in ["Hugo_Chavez/0001.jpg", "Hugo_Chavez/0002.jpg"] {
            let path = ServiceHarness.shared.appendingPathComponent("faces/images/\(photo)").path
            let r = try Self.curl(["-X", "POST", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: image/jpeg",
                                   "--data-binary", "@\(path)", "\(base)/v1/subjects/\(subject)/faces"])
            #expect(r.status == 201)
            if let id = (try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])?["id"] as? String { acknowledged.append(id) }
        }
        // No graceful shutdown: SIGKILL the moment the last acknowledgement arrived.
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        #expect(server.terminationReason == .uncaughtSignal)

        server = try Self.start(dataDir: dir, port: port, log: dir + "/second.log")
        defer { server.terminate(); server.waitUntilExit() }
        let after = try Self.curl(["-H", "Authorization: Bearer \(key)", "\(base)/v1/subjects/\(subject)"])
        let faces = (try JSONSerialization.jsonObject(with: Data(after.body.utf8)) as? [String: Any])?["faces"] as? [String]
        #expect(faces == acknowledged)
        let probe = try ServiceHarness.photo("Hugo_Chavez/0003.jpg").base64EncodedString()
        let bodyFile = dir + "/verify.json"
        try "{\"subject_id\":\"\(subject)\",\"image\":\"\(probe)\"}".write(toFile: bodyFile, atomically: true, encoding: .utf8)
        let verify = try Self.curl(["-X", "POST", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                                    "--data-binary", "@\(bodyFile)", "\(base)/v1/verify"])
        #expect(verify.body.contains("\"match\":true"))
        // The second start printed no new key.
        #expect(!((try? String(contentsOfFile: dir + "/second.log", encoding: .utf8)) ?? "").contains("sk_test_"))
    }
}
