import ArgusStore
import Foundation
import Testing

/// The store's first use and its safety across processes (issue 9, item 12 and "also seen").
@Suite("store safety across processes", .serialized)
struct StoreSafetyTests {
    @Test("argus tenants create|list|suspend|resume and operator-keys create work on a store with no server")
    func tenants() throws {
        let data = try CLITests.temporaryDirectory().appendingPathComponent("data").path
        defer { try? FileManager.default.removeItem(atPath: (data as NSString).deletingLastPathComponent) }
        let created = try CLITests.run(["tenants", "create", "--data-dir", data, "--name", "Acme", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let line = try #require(created.jsonLines.first)
        let id = try #require(line["id"] as? String)
        #expect((line["secret_key"] as? String)?.hasPrefix("sk_test_") == true)
        #expect(try CLITests.run(["tenants", "suspend", "--data-dir", data, id]).status == 0)
        let listed = try CLITests.run(["tenants", "list", "--data-dir", data, "--json"]).jsonLines
        #expect(listed.first { $0["id"] as? String == id }?["status"] as? String == "suspended")
        #expect(try CLITests.run(["tenants", "resume", "--data-dir", data, id]).status == 0)
        #expect(try CLITests.run(["tenants", "list", "--data-dir", data, "--json"]).jsonLines.first { $0["id"] as? String == id }?["status"] as? String == "active")
        #expect(try CLITests.run(["tenants", "suspend", "--data-dir", data, "ten_nobody"]).status != 0)
        let op = try #require(try CLITests.run(["operator-keys", "create", "--data-dir", data, "--json"]).jsonLines.first)
        #expect((op["key"] as? String)?.hasPrefix("op_") == true)
        let key = try CLITests.run(["keys", "create", "--data-dir", data, "--tenant", id, "--json"])
        #expect(key.status == 0 && (key.jsonLines.first?["key"] as? String)?.hasPrefix("sk_test_") == true)
    }

    @Test("read-only commands never create a store")
    func readOnlyCreatesNothing() throws {
        let dir = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nowhere").path
        for command in [["keys", "list"], ["keys", "revoke", "key_x"], ["keys", "roll", "key_x"]] {
            let run = try CLITests.run(command + ["--data-dir", missing])
            #expect(run.status != 0 && run.stderr.contains("no Argus store"), "\(command): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("eight concurrent first uses of a fresh directory make one master key and one tenant, and every key works")
    func concurrentFirstUse() throws {
        for round in 0..<2 {
            let dir = try CLITests.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let data = dir.appendingPathComponent("data").path
            let runs = try (0..<8).map { _ -> (Process, Pipe) in
                let p = Process()
                p.executableURL = CLITests.binary
                p.arguments = ["keys", "create", "--data-dir", data, "--json"]
                p.environment = ProcessInfo.processInfo.environment.filter { $0.key != "ARGUS_MASTER_KEY" }
                let out = Pipe()
                p.standardOutput = out
                p.standardError = FileHandle.nullDevice
                try p.run()
                return (p, out)
            }
            var keys: [String] = []
            for (p, out) in runs {
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "round \(round)")
                if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let key = object["key"] as? String {
                    keys.append(key)
                }
            }
            #expect(keys.count == 8)
            let store = try SQLiteStore(dataDirectory: data, environment: [:], create: false)
            #expect(try store.credentials(tenant: store.defaultTenantID, mode: nil).count == 8)
            // One tenant, whose data key opens under the one master key.
            #expect(try store.tenantCount() == 1)
            let list = try CLITests.run(["keys", "list", "--data-dir", data, "--json"])
            #expect(list.status == 0 && list.jsonLines.count == 8)
            // The CLI's own audit rows: one per key.
            #expect(try store.auditRows().filter { $0["operation"] == "keys.create" }.count == 8)
        }
    }

    @Test("key commands work while a server runs on the store, and the server sees them at once",
          .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/curl")))
    func keysWhileServing() throws {
        let work = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        let port = try EnrollTests.freePort()
        let log = work.appendingPathComponent("serve.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let server = Process()
        server.executableURL = CLITests.binary
        server.arguments = ["serve", "--data-dir", data, "--port", "\(port)", "--log-level", "warning"]
        server.environment = ProcessInfo.processInfo.environment.merging(["ARGUS_MODELS": CLITests.root.appendingPathComponent("models").path]) { $1 }
        server.standardOutput = FileHandle(forWritingAtPath: log)
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        func status(_ key: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(key)", "http://127.0.0.1:\(port)/v1/ping"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return text
        }
        var ready = false
        for _ in 0..<300 where !ready {
            Thread.sleep(forTimeInterval: 0.1)
            ready = (try? status("sk_test_x")) == "401"
        }
        #expect(ready)
        let created = try CLITests.run(["keys", "create", "--data-dir", data, "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let line = try #require(created.jsonLines.first)
        let key = try #require(line["key"] as? String), id = try #require(line["id"] as? String)
        #expect(try status(key) == "200")
        #expect(try CLITests.run(["keys", "revoke", id, "--data-dir", data]).status == 0)
        #expect(try status(key) == "401")
        // The first start printed a key (the store had none); the second key came from the CLI.
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("sk_test_"))
    }
}
