import ArgusFace
import ArgusImaging
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing
import ArgusStore
import NIOCore
@testable import ArgusService

/// A running service on loopback with a fresh data directory, for one test.
enum ServiceHarness {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var shared: URL {
        ProcessInfo.processInfo.environment["ARGUS_SHARED"].map { URL(fileURLWithPath: $0) }
            ?? root.deletingLastPathComponent().appendingPathComponent("shared")
    }
    static var models: String { ProcessInfo.processInfo.environment["ARGUS_MODELS"] ?? root.appendingPathComponent("models").path }
    static var hasFaces: Bool {
        let present = FileManager.default.fileExists(atPath: shared.appendingPathComponent("faces/manifest.tsv").path)
        if !present { print("skipping: \(shared.path)/faces is absent (../shared is not beside this checkout)") }
        return present
    }

    static let pipeline: FacePipeline = {
        do { return try FacePipeline(models: ModelDirectory(path: models)) } catch { fatalError("models: \(error) (run `make models`)") }
    }()

    static func photo(_ relative: String) throws -> Data {
        try Data(contentsOf: shared.appendingPathComponent("faces/images/\(relative)"))
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-svc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func configuration(dataDirectory: String, tweak: (inout ServiceConfiguration) -> Void = { _ in }) -> ServiceConfiguration {
        var c = ServiceConfiguration()
        c.dataDirectory = dataDirectory
        c.port = 0
        c.modelsDirectory = models
        // HummingbirdTesting's live client connects before the test body runs, and a body may spend
        // seconds on store calls first when the whole suite shares two cores: the read deadlines
        // (tested against the real binary in Tests/peers/faults.py) must not cut that connection.
        c.headTimeout = 600
        c.idleTimeout = 600
        tweak(&c)
        return c
    }

    /// Opens a runtime on a new data directory and runs `body` against the live server.
    static func withService(tweak: (inout ServiceConfiguration) -> Void = { _ in },
                            _ body: @Sendable (ArgusServiceRuntime, any TestClientProtocol) async throws -> Void) async throws {
        try await with(.live, tweak: tweak, body)
    }

    /// The same, without a socket: requests go straight to the router (HummingbirdTesting's router mode).
    static func withRouter(tweak: (inout ServiceConfiguration) -> Void = { _ in },
                           _ body: @Sendable (ArgusServiceRuntime, any TestClientProtocol) async throws -> Void) async throws {
        try await with(.router, tweak: tweak, body)
    }

    /// The PostgreSQL leg of the matrix: with `ARGUS_TEST_SERVICE_POSTGRES` set to a server's
    /// database (`make test` runs this suite a second time so), each service runs on a new database
    /// of that server instead of a new data directory.
    static var postgresAdmin: String? {
        ProcessInfo.processInfo.environment["ARGUS_TEST_SERVICE_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }
    static var onPostgres: Bool { postgresAdmin != nil }
    static let masterKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    /// Everything the runtime's store keeps, as text: the SQLite file, or a data-only `pg_dump`
    /// (bytea in hex: a secret kept in clear anywhere is found either way).
    static func storedText(_ runtime: ArgusServiceRuntime) throws -> String {
        guard onPostgres, let url = runtime.configuration.store else {
            return try String(contentsOfFile: runtime.store.location, encoding: .isoLatin1)
        }
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dump.arguments = ["pg_dump", "--data-only", url]
        let out = Pipe()
        dump.standardOutput = out
        try dump.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        dump.waitUntilExit()
        #expect(dump.terminationStatus == 0 && data.count > 1000)
        return String(decoding: data, as: UTF8.self)
    }

    static func with(_ setup: TestingSetup, tweak: (inout ServiceConfiguration) -> Void,
                     _ body: @Sendable (ArgusServiceRuntime, any TestClientProtocol) async throws -> Void) async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "argus-test")
        logger.logLevel = .warning
        var environment: [String: String] = [:]
        var configuration = configuration(dataDirectory: dir, tweak: tweak)
        if let admin = postgresAdmin {
            configuration.store = try PostgresStore.scratchDatabase(admin: admin)
            environment["ARGUS_MASTER_KEY"] = masterKey
        }
        defer { if let admin = postgresAdmin, let url = configuration.store { PostgresStore.dropDatabase(admin: admin, url: url) } }
        let runtime = try await ArgusServiceRuntime.open(configuration, pipeline: pipeline, environment: environment, logger: logger)
        defer { runtime.stopFollowing() }
        try await runtime.buildApplication(logger: logger).test(setup) { client in try await body(runtime, client) }
    }
}

/// Small conveniences over the test client: JSON in, JSON out.
struct Reply: @unchecked Sendable {
    // @unchecked: an immutable value; `json` holds only JSONSerialization's immutable values.
    let status: HTTPResponse.Status
    let json: [String: Any]
    let headers: HTTPFields
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, auth: String? = nil, headers extra: HTTPFields = [:], json: [String: Any]? = nil,
              body: Data? = nil, contentType: String? = nil) async throws -> Reply {
        var headers = extra
        if let auth { headers[.authorization] = "Bearer \(auth)" }
        var buffer: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let body {
            if let contentType { headers[.contentType] = contentType }
            buffer = ByteBuffer(bytes: body)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            let data = Data(response.body.readableBytesView)
            // Every response a test receives must agree with openapi.json.
            for problem in OpenAPIValidator.shared.check(method: method.rawValue, uri: uri, status: Int(response.status.code),
                                                          contentType: response.headers[.contentType], body: data) {
                Issue.record("openapi.json disagrees: \(problem)")
            }
            let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
            return Reply(status: response.status, json: object, headers: response.headers)
        }
    }
}
