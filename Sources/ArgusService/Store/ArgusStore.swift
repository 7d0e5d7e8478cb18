public import Foundation
public import GRDB
import Synchronization

/// The embedded store: one SQLite database (`argus.sqlite` in the data directory) in WAL mode
/// with `synchronous = FULL`, so a write that returned has reached the disk and survives a
/// kill -9 or a power cut. Templates are stored sealed (see `KeyVault`); images never are.
public final class ArgusStore: Sendable {
    let pool: DatabasePool
    public let path: String
    /// When each credential's `last_used_at` was last written (see `touch`).
    let lastTouched = Mutex<[String: Double]>([:])

    public init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = (dataDirectory as NSString).appendingPathComponent("argus.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL, wrapped_data_key BLOB NOT NULL);
                CREATE TABLE credentials (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), mode TEXT NOT NULL,
                    kind TEXT NOT NULL, lookup TEXT NOT NULL UNIQUE, secret_digest BLOB NOT NULL,
                    display_prefix TEXT NOT NULL, last4 TEXT NOT NULL, scopes TEXT NOT NULL, name TEXT,
                    created_at REAL NOT NULL, last_used_at REAL, expires_at REAL, revoked_at REAL, rolled_to TEXT);
                CREATE TABLE subjects (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), mode TEXT NOT NULL,
                    external_id TEXT, created_at REAL NOT NULL);
                CREATE UNIQUE INDEX subjects_external ON subjects(tenant_id, mode, external_id) WHERE external_id IS NOT NULL;
                CREATE INDEX subjects_page ON subjects(tenant_id, mode, created_at, id);
                CREATE TABLE faces (
                    id TEXT PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                    tenant_id TEXT NOT NULL, mode TEXT NOT NULL, gallery TEXT NOT NULL, template BLOB NOT NULL,
                    box TEXT NOT NULL, quality TEXT NOT NULL, image_sha256 TEXT, created_at REAL NOT NULL);
                CREATE INDEX faces_subject ON faces(subject_id);
                CREATE INDEX faces_image ON faces(tenant_id, mode, image_sha256);
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, mode TEXT NOT NULL, credential_id TEXT NOT NULL,
                    purpose TEXT NOT NULL, subject_id TEXT, customer_ref TEXT NOT NULL, created_at REAL NOT NULL,
                    expires_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
                    spent_at REAL, revoked_at REAL);
                CREATE TABLE signing_keys (
                    kid TEXT PRIMARY KEY, sealed_private_key BLOB NOT NULL, created_at REAL NOT NULL, retired_at REAL);
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tenant_id TEXT, credential_id TEXT,
                    operation TEXT NOT NULL, subject_id TEXT, outcome TEXT NOT NULL, request_id TEXT);
                """)
        }
        return m
    }

    func meta(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    func setMeta(_ key: String, _ value: String) throws {
        try pool.write { db in try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [key, value]) }
    }

    /// Appends to the audit table: who did what to which subject, and the outcome. Never images or templates.
    func audit(tenant: String?, credential: String?, operation: String, subject: String?, outcome: String, requestID: String?) {
        try? pool.write { db in
            try db.execute(sql: "INSERT INTO audit(at, tenant_id, credential_id, operation, subject_id, outcome, request_id) VALUES (?,?,?,?,?,?,?)",
                           arguments: [Date().timeIntervalSince1970, tenant, credential, operation, subject, outcome, requestID])
        }
    }
}
