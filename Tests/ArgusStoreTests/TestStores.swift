import ArgusStore
import Foundation
import Testing

/// The backends a store test runs on: SQLite always; PostgreSQL when `ARGUS_TEST_POSTGRES` names
/// a server's database that may create others (`make test` starts a throw-away cluster and sets
/// it). Each test gets a store of its own: a new data directory, or a new database.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var postgresAdmin: String? { ProcessInfo.processInfo.environment["ARGUS_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 } }
    static var available: [Backend] {
        if postgresAdmin == nil { print("PostgreSQL leg skipped: ARGUS_TEST_POSTGRES is not set (make test sets it)") }
        return postgresAdmin == nil ? [.sqlite] : [.sqlite, .postgres]
    }
    /// One master key for every PostgreSQL store of a test run.
    static let masterKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    var testDescription: String { rawValue }
}

/// A store of one backend, for one test.
final class TestStore: @unchecked Sendable {
    let backend: Backend
    let store: any Store
    /// Where it lives: the data directory, or the database's address.
    let location: String
    /// Another handle on the same store (what a second process or node opens).
    let reopen: () throws -> any Store
    private let cleanup: () -> Void

    init(_ backend: Backend) throws {
        self.backend = backend
        switch backend {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-store-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            location = dir
            store = try SQLiteStore(dataDirectory: dir, environment: [:])
            reopen = { try SQLiteStore(dataDirectory: dir, environment: [:], create: false) }
            cleanup = { try? FileManager.default.removeItem(atPath: dir) }
        case .postgres:
            let admin = try #require(Backend.postgresAdmin)
            let url = try PostgresStore.scratchDatabase(admin: admin)
            let environment = ["ARGUS_MASTER_KEY": Backend.masterKey]
            location = url
            store = try PostgresStore(url: url, environment: environment, connections: 24)
            reopen = { try PostgresStore(url: url, environment: environment, connections: 4) }
            cleanup = { PostgresStore.dropDatabase(admin: admin, url: url) }
        }
    }

    /// Removes the store (call it in a `defer`).
    func close() { cleanup() }

    /// Every byte the store keeps of its faces (the SQLite file; PostgreSQL's faces table in binary COPY).
    func storedBytes() throws -> Data {
        switch backend {
        case .sqlite:
            return try Data(contentsOf: URL(fileURLWithPath: (location as NSString).appendingPathComponent("argus.sqlite")))
        case .postgres:
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("argus-copy-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let psql = Process()
            psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            psql.arguments = ["psql", location, "-q", "-c", "\\copy faces TO '\(out.path)' WITH (FORMAT binary)"]
            try psql.run()
            psql.waitUntilExit()
            #expect(psql.terminationStatus == 0)
            return try Data(contentsOf: out)
        }
    }
}
