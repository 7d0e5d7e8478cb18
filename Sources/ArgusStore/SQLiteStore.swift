public import Foundation
import GRDB
import Synchronization

/// The embedded store: one SQLite database (`argus.sqlite` in the data directory) through GRDB,
/// in WAL mode with `synchronous = FULL`, so a write that returned has reached the disk and
/// survives a kill -9 or a power cut. Templates are stored sealed (see `KeyVault`); images never are.
public final class SQLiteStore: SQLBackedStore {
    let pool: DatabasePool
    public let path: String
    public let directory: String
    public var location: String { path }
    public let core: StoreCore
    /// The tenant a store starts with.
    public let defaultTenantID: String
    /// How the last load of faces was served (see `lastFaceScan`).
    let lastScan = Mutex(FaceScanReport())

    /// How many pages the writing connection keeps in memory.
    public enum WriterCache: Sendable {
        /// SQLite's default, 2 MB: a service writes a few rows per request, at the pace of its
        /// analyses, and a bigger cache would only fill with the pages of new rows (audit, sessions)
        /// and grow the resident size for hours.
        case service
        /// 64 MB, for a process that writes faces by the hundred thousand (`argus bench seed`,
        /// `argus enroll --data-dir`): inserts into the id indexes land at random places, and at a
        /// million faces a 2 MB cache sent most of them to the file.
        case bulkLoad

        var pragma: String {
            switch self {
            case .service: "PRAGMA cache_size = -2000"
            case .bulkLoad: "PRAGMA cache_size = -65536"
            }
        }
    }

    /// Opens the store in `dataDirectory`. With `create`, a missing store is made (directory 0700,
    /// files 0600, a master key and a default tenant); without it, a missing store is an error and
    /// nothing is written. First-use initialisation is serialised across processes.
    public init(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment, create: Bool = true,
                writerCache: WriterCache = .service) throws {
        let path = (dataDirectory as NSString).appendingPathComponent("argus.sqlite")
        guard create || FileManager.default.fileExists(atPath: path) else { throw StoreError.missing(dataDirectory) }
        directory = dataDirectory
        self.path = path
        let vault: KeyVault
        (pool, vault, defaultTenantID) = try Self.guarded { try Self.open(path: path, dataDirectory: dataDirectory, environment: environment, writerCache: writerCache) }
        core = StoreCore(backend: SQLiteBackend(pool: pool), vault: vault)
    }

    private static func open(path: String, dataDirectory: String, environment: [String: String],
                             writerCache: WriterCache) throws -> (DatabasePool, KeyVault, String) {
        try PrivateFiles.directory(dataDirectory)
        return try InitializationLock.run(dataDirectory: dataDirectory) {
            // SQLite gives its -wal and -shm files the main file's mode: create that 0600 first.
            try PrivateFiles.touch(path)
            for suffix in ["-wal", "-shm"] { try PrivateFiles.restrict(path + suffix) }
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA foreign_keys = ON")
                if !db.configuration.readonly {
                    try db.execute(sql: writerCache.pragma)
                    // Statement journals (a DELETE that fires the face log's trigger keeps one) in memory, not in a temporary file.
                    try db.execute(sql: "PRAGMA temp_store = MEMORY")
                }
            }
            let pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            for suffix in ["-wal", "-shm"] { try PrivateFiles.restrict(path + suffix) }
            let vault = try KeyVault.open(dataDirectory: dataDirectory, environment: environment)
            let backend = SQLiteBackend(pool: pool)
            try Self.bindKeysToOwners(backend, vault: vault)
            let tenant = try Self.defaultTenant(backend, vault: vault)
            try Self.checkMasterKey(backend, vault: vault, tenant: tenant)
            return (pool, vault, tenant)
        }
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
        m.registerMigration("v2") { db in
            // Audit rows name the object acted on (a roll names the old and the new key).
            try db.execute(sql: "ALTER TABLE audit ADD COLUMN target_id TEXT")
            try db.execute(sql: "CREATE INDEX sessions_credential ON sessions(credential_id)")
        }
        m.registerMigration("v3") { db in
            // Signed requests (signers, challenges, user actions) and client-held template keys.
            try db.execute(sql: """
                ALTER TABLE credentials ADD COLUMN signed_requests INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE subjects ADD COLUMN key_custody TEXT NOT NULL DEFAULT 'server';
                ALTER TABLE faces ADD COLUMN custody INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE signers (
                    id TEXT PRIMARY KEY, credential_id TEXT NOT NULL REFERENCES credentials(id), alg TEXT NOT NULL,
                    public_key_pem TEXT NOT NULL, created_at REAL NOT NULL, revoked_at REAL);
                CREATE INDEX signers_credential ON signers(credential_id);
                CREATE TABLE challenges (
                    id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
                    body_sha256 TEXT NOT NULL, challenge TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, taken_at REAL);
                CREATE TABLE user_actions (
                    id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, signer_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
                    body_sha256 TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, used_at REAL);
                CREATE TABLE app_keys (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, mode TEXT NOT NULL, alg TEXT NOT NULL,
                    public_key_pem TEXT NOT NULL, created_at REAL NOT NULL);
                """)
        }
        m.registerMigration("v4") { db in
            // Tenants with a status, operator keys, console users, their sessions and invites.
            try db.execute(sql: """
                ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
                CREATE TABLE operator_keys (
                    id TEXT PRIMARY KEY, lookup TEXT NOT NULL UNIQUE, secret_digest BLOB NOT NULL, last4 TEXT NOT NULL, name TEXT,
                    created_at REAL NOT NULL, revoked_at REAL);
                CREATE TABLE users (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                    role TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE INDEX users_tenant ON users(tenant_id);
                CREATE TABLE console_sessions (
                    digest TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, csrf TEXT NOT NULL, mode TEXT NOT NULL,
                    created_at REAL NOT NULL, expires_at REAL NOT NULL);
                CREATE INDEX console_sessions_user ON console_sessions(user_id);
                CREATE TABLE invites (
                    digest TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, created_by TEXT, created_at REAL NOT NULL,
                    expires_at REAL NOT NULL, used_at REAL);
                CREATE INDEX audit_tenant ON audit(tenant_id, id);
                ALTER TABLE audit ADD COLUMN mode TEXT;
                """)
        }
        m.registerMigration("v5") { db in
            // Every attempt of a session, with its score and decision: what the tenant's backend reads.
            try db.execute(sql: """
                CREATE TABLE session_attempts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, at REAL NOT NULL, score REAL, threshold REAL,
                    matched INTEGER, outcome TEXT NOT NULL);
                CREATE INDEX session_attempts_session ON session_attempts(session_id, id);
                CREATE INDEX sessions_page ON sessions(tenant_id, mode, created_at, id);
                """)
        }
        m.registerMigration("v6") { db in
            // Customers' own signing keys (their backends mint customer tokens), and the tenant's self-enrolment setting.
            try db.execute(sql: """
                CREATE TABLE customer_keys (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, mode TEXT NOT NULL, kid TEXT NOT NULL, alg TEXT NOT NULL,
                    public_key_pem TEXT NOT NULL, created_at REAL NOT NULL, deleted_at REAL);
                CREATE UNIQUE INDEX customer_keys_kid ON customer_keys(tenant_id, kid) WHERE deleted_at IS NULL;
                ALTER TABLE tenants ADD COLUMN customer_self_enrollment INTEGER NOT NULL DEFAULT 0;
                """)
        }
        m.registerMigration("v7") { db in
            // Webhooks: endpoints, and an outbox of events and their deliveries written in the transaction of the change.
            try db.execute(sql: """
                CREATE TABLE webhook_endpoints (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, mode TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
                    sealed_secret BLOB NOT NULL, created_at REAL NOT NULL, disabled_at REAL, disabled_reason TEXT, failing_since REAL, deleted_at REAL);
                CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, mode);
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, mode TEXT NOT NULL, type TEXT NOT NULL,
                    created_at REAL NOT NULL, data TEXT NOT NULL);
                CREATE TABLE deliveries (
                    id TEXT PRIMARY KEY, event_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    next_at REAL NOT NULL, last_status INTEGER, last_error TEXT, last_at REAL, created_at REAL NOT NULL);
                CREATE INDEX deliveries_due ON deliveries(status, next_at);
                CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id, created_at);
                ALTER TABLE sessions ADD COLUMN expiry_notified INTEGER NOT NULL DEFAULT 0;
                """)
        }
        m.registerMigration("v8") { db in
            // Face counts per tenant, mode and gallery from an index alone: a start-up sizes its
            // galleries before it reads a template (appended to in order, so cheap to keep).
            try db.execute(sql: "CREATE INDEX faces_gallery ON faces(tenant_id, mode, gallery, custody)")
        }
        m.registerMigration("v9") { db in
            // The face log: every server-custody face added (op 1) or removed (op 2), in the
            // transaction of the change. Additions are written by `writeFaces`, the one way a face
            // is written (a trigger on INSERT made SQLite keep a statement journal for every row:
            // +25 % on a bulk seed); removals and changes by triggers, whatever the path (a
            // subject's cascade included). A gallery snapshot names the last entry it holds; a
            // start-up reads the snapshot and the entries after it (see `GallerySnapshot`). Faces
            // older than the log are in no entry: they are in whatever snapshot is written first.
            try db.execute(sql: """
                CREATE TABLE face_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, face_id TEXT NOT NULL, op INTEGER NOT NULL,
                    tenant_id TEXT NOT NULL, mode TEXT NOT NULL, gallery TEXT NOT NULL);
                CREATE TRIGGER faces_logged_delete AFTER DELETE ON faces WHEN OLD.custody = 0 BEGIN
                    INSERT INTO face_log(face_id, op, tenant_id, mode, gallery) VALUES (OLD.id, 2, OLD.tenant_id, OLD.mode, OLD.gallery);
                END;
                CREATE TRIGGER faces_logged_update AFTER UPDATE ON faces BEGIN
                    INSERT INTO face_log(face_id, op, tenant_id, mode, gallery)
                        SELECT OLD.id, 2, OLD.tenant_id, OLD.mode, OLD.gallery WHERE OLD.custody = 0;
                    INSERT INTO face_log(face_id, op, tenant_id, mode, gallery)
                        SELECT NEW.id, 1, NEW.tenant_id, NEW.mode, NEW.gallery WHERE NEW.custody = 0;
                END;
                """)
        }
        return m
    }

    /// On a store with no credential at all, creates the default tenant's first test-mode secret
    /// key (serialised with other first uses, so two processes never both create one).
    public func issueFirstKey() throws -> IssuedCredential? {
        try Self.guarded { try InitializationLock.run(dataDirectory: directory) {
            let none = try pool.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM credentials LIMIT 1") == nil }
            guard none else { return nil }
            return try createCredential(tenant: defaultTenantID, mode: .test, kind: .secret, scopes: [], name: "first key", expiresAt: nil)
        } }
    }


    /// A read transaction on GRDB's own connection (the scan of every face and the snapshot).
    func sqliteRead<T>(_ body: (Database) throws -> T) throws -> T { try Self.guarded { try pool.read(body) } }
    func sqliteWrite<T>(_ body: (Database) throws -> T) throws -> T { try Self.guarded { try pool.write(body) } }
}
