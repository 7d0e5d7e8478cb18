public import Foundation
import GRDB
import Logging
import NIOCore
import PostgresNIO

/// PostgreSQL as the system of record (`--store postgres://…`): the same store as the embedded
/// one (the module's shared SQL), for any number of `argus serve` processes at once. What must
/// hold across nodes is decided in PostgreSQL: writes are SERIALIZABLE transactions, so a
/// session's attempts, its single spending, key rolls and revocations and a tenant's status are
/// exactly-once whichever node takes the request. The master key comes from `ARGUS_MASTER_KEY`
/// (every node needs the same one; the database alone opens no template).
///
/// Every change to the faces that galleries hold is in `face_log`, in the transaction of the
/// change, numbered in commit order (the numbering takes a transaction-scoped lock, so an entry
/// is never seen before an earlier one), and announced on the channel `argus_faces`: nodes keep
/// their galleries in step by reading the log after the last entry they applied (`faceChanges`).
public final class PostgresStore: SQLBackedStore {
    public let core: StoreCore
    public let defaultTenantID: String
    public let address: PostgresAddress
    public var location: String { address.description }
    let connections: PostgresConnections

    /// The channel each face-log entry is announced on.
    public static let faceChannel = "argus_faces"

    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment, connections limit: Int = 16) throws {
        address = try PostgresAddress(url, environment: environment)
        guard environment["ARGUS_MASTER_KEY"] != nil else {
            throw StoreError.invalid("a PostgreSQL store needs ARGUS_MASTER_KEY (base64 of 32 bytes), the same on every node")
        }
        let vault = try StoreFailures.guarded { try KeyVault.open(dataDirectory: "", environment: environment) }
        connections = PostgresConnections(address: address, limit: limit)
        let backend = PostgresBackend(connections: connections)
        core = StoreCore(backend: backend, vault: vault)
        try PostgresSchema.migrate(backend)
        defaultTenantID = try Self.defaultTenant(backend, vault: vault)
        try Self.checkMasterKey(backend, vault: vault, tenant: defaultTenantID)
    }

    deinit { connections.close() }

    public func issueFirstKey() throws -> IssuedCredential? {
        // In one transaction with a lock every node takes first: two nodes' first starts make one key.
        let made: (IssuedCredential?) = try write { db in
            try db.execute(sql: "SELECT pg_advisory_xact_lock(4242170002)")
            guard try !db.exists(sql: "SELECT 1 FROM credentials LIMIT 1") else { return nil }
            return try Self.insertCredential(db, tenant: defaultTenantID, mode: .test, kind: .secret, scopes: [], name: "first key", expiresAt: nil)
        }
        return made
    }

    /// One statement, on the bucket's row (locked by the upsert): of concurrent requests on any
    /// nodes, no more than the bucket holds are let through.
    public func takeRateToken(key: String, rate: Double, burst: Double, now: Double) throws -> Bool? {
        try StoreFailures.guarded {
            try connections.with { connection in
                let session = PostgresSession(connection: connection, logger: connections.logger)
                let refilled = "LEAST(?, rate_buckets.tokens + GREATEST(0, ? - rate_buckets.at) * ?)"
                let value = try session.fetchFirstValue(sql: """
                    INSERT INTO rate_buckets(key, tokens, at, allowed) VALUES (?, ?, ?, 1)
                    ON CONFLICT (key) DO UPDATE SET
                        tokens = CASE WHEN \(refilled) >= 1 THEN \(refilled) - 1 ELSE \(refilled) END,
                        allowed = CASE WHEN \(refilled) >= 1 THEN 1 ELSE 0 END,
                        at = GREATEST(rate_buckets.at, excluded.at)
                    RETURNING allowed
                    """, arguments: SQLArguments([key, burst - 1, now] + Array(repeating: [burst, now, rate] as [(any DatabaseValueConvertible)?], count: 4).flatMap { $0 }))
                return value.flatMap(Int64.fromDatabaseValue) == 1
            }
        }
    }

    public func writeFaces(_ faces: [NewFace], tenant: String, mode: Mode, spending session: String?) throws -> [FaceWrite] {
        let written = try writeFacesInTransaction(faces, tenant: tenant, mode: mode, spending: session)
        // In the background: the faces are committed, and their writer adds them to its gallery now.
        if faces.count >= 256 { Self.statistics.async { [self] in try? analyzeIfGrown() } }
        return written
    }

    private static let statistics = DispatchQueue(label: "argus.store.analyze")

    /// After a bulk write, statistics for tables that have grown past what the planner last saw.
    /// A fresh store filled by one large import has none until autovacuum runs: the planner then
    /// took the page index for the external-id lookup, and each lookup read the tenant's every
    /// subject (a 12,000-face seed took 40 s instead of 14).
    private func analyzeIfGrown() throws {
        try StoreFailures.guarded {
            try connections.with { connection in
                let session = PostgresSession(connection: connection, logger: connections.logger)
                let stale = try session.fetchAll(sql: """
                    SELECT relname FROM pg_stat_user_tables WHERE relname IN ('subjects', 'faces', 'face_log')
                    AND n_mod_since_analyze > GREATEST(1000, n_live_tup / 2)
                    """, arguments: []).compactMap { $0["relname"] as String? }
                for table in stale { try session.execute(sql: "ANALYZE \(table)", arguments: []) }
            }
        }
    }

    public func faceCounts() throws -> [FaceCount] {
        try read { db in
            try db.fetchAll(sql: """
                SELECT tenant_id, mode, gallery, COUNT(*) AS n FROM faces WHERE custody = 0 GROUP BY tenant_id, mode, gallery
                """).map { FaceCount(tenant: $0["tenant_id"], mode: Mode(rawValue: $0["mode"]) ?? .test, gallery: $0["gallery"], faces: $0["n"]) }
        }
    }

    /// Every face (in the order written), through a cursor a batch at a time, in one snapshot of the store.
    public func forEachFaceBatch(tenant: String?, mode: Mode?, batch: Int, digests: Bool, _ body: (FaceBatch) throws -> Void) throws {
        // A thread of its own runs the cursor and opens the templates while this one hands the
        // batches on (a start-up indexes them meanwhile).
        let ahead = ReadAhead<FaceBatch>(depth: 3)
        let done = DispatchSemaphore(value: 0)
        let reader = Thread { [self] in
            defer { done.signal() }
            do {
                try scanFaces(tenant: tenant, mode: mode, batch: batch, digests: digests, into: ahead)
                ahead.finish()
            } catch {
                ahead.finish(error)
            }
        }
        reader.name = "argus-face-scan"
        reader.start()
        defer {
            ahead.cancel()
            done.wait()
        }
        while let faces = try ahead.take() { try body(faces) }
    }

    /// The reader's side: a cursor over the faces in the order written, `batch` at a time, in one
    /// snapshot of the store; each FETCH is sent before the previous batch is opened.
    private func scanFaces(tenant: String?, mode: Mode?, batch: Int, digests: Bool, into ahead: ReadAhead<FaceBatch>) throws {
        let size = max(1, min(batch, 65_536))
        try read { db in
            guard let session = db as? PostgresSession else { throw StoreError.unavailable("not a PostgreSQL session") }
            try db.execute(sql: """
                DECLARE argus_faces NO SCROLL CURSOR FOR
                SELECT id, subject_id, tenant_id, mode, gallery, template, image_sha256 FROM faces
                WHERE (CAST(? AS TEXT) IS NULL OR tenant_id = ?) AND (CAST(? AS TEXT) IS NULL OR mode = ?) AND custody = 0
                ORDER BY created_at, id
                """, arguments: [tenant, tenant, mode?.rawValue, mode?.rawValue])
            let fetch = { session.connection.query(PostgresQuery(unsafeSQL: "FETCH \(size) FROM argus_faces"), logger: session.logger) }
            var pending = fetch()
            var keys: [String: SymmetricKeyBox] = [:]
            while true {
                let rows = try PostgresConnections.wait(pending).rows
                if rows.isEmpty { break }
                pending = fetch()
                var faces = FaceBatch()
                for row in rows {
                    let (id, subject, t, m, g, sealed, digest) = try Self.guarded {
                        try row.decode((String, String, String, String, String, ByteBuffer, String?).self)
                    }
                    faces.append(faceID: id, subjectID: subject, tenant: t, mode: Mode(rawValue: m) ?? .test, gallery: g,
                                 imageSHA256: digests ? digest : nil)
                    let key: SymmetricKeyBox
                    if let known = keys[t] {
                        key = known
                    } else {
                        key = SymmetricKeyBox(try dataKey(tenant: t, in: db))
                        keys[t] = key
                    }
                    try Self.guarded {
                        let values = try KeyVault.openTemplate(Data(sealed.readableBytesView), key: key.key, faceID: id, appendingTo: &faces.templates)
                        try faces.opened(values: values, faceID: id)
                    }
                }
                guard ahead.put(faces) else {
                    // The consumer has gone: the fetch in flight is drained, and the read ends.
                    _ = try? PostgresConnections.wait(pending)
                    break
                }
            }
            try db.execute(sql: "CLOSE argus_faces")
        }
    }

    /// The face log's entries after `position`, at most `limit`, oldest first, with the faces they
    /// add (templates opened; a face removed since comes with none).
    public func faceChanges(after position: Int64, limit: Int = 4096) throws -> [FaceChange] {
        try read { db in
            try db.fetchAll(sql: """
                SELECT l.seq, l.face_id, l.op, l.tenant_id, l.mode, l.gallery, f.subject_id, f.template
                FROM face_log l LEFT JOIN faces f ON l.op = 1 AND f.id = l.face_id AND f.custody = 0
                WHERE l.seq > ? ORDER BY l.seq LIMIT ?
                """, arguments: [position, limit]).map { row in
                let id: String = row["face_id"], tenant: String = row["tenant_id"]
                var template: [Float]?
                var unreadable = false
                if let sealed: Data = row["template"] {
                    // One seal that does not open is reported with its entry, not a stop for every entry after it.
                    do {
                        let key = try dataKey(tenant: tenant, in: db)
                        template = try Self.guarded { try KeyVault.openTemplate(sealed, key: key, faceID: id) }
                    } catch {
                        unreadable = true
                    }
                }
                return FaceChange(position: row["seq"], faceID: id, added: (row["op"] as Int64) == 1, tenant: tenant,
                                  mode: Mode(rawValue: row["mode"]) ?? .test, gallery: row["gallery"], subjectID: row["subject_id"],
                                  template: template, unreadable: unreadable)
            }
        }
    }

    /// The last face-log position.
    public func faceLogPosition() throws -> Int64 {
        try read { db in try db.fetchOne(Int64.self, sql: "SELECT COALESCE(MAX(seq), 0) FROM face_log") ?? 0 }
    }

    /// A connection of its own that hears `argus_faces`: `wake` runs (on an event loop: keep it
    /// short) for each announcement; `lost` once if the connection ends. - Returns: a closer.
    public func listenForFaces(wake: @escaping @Sendable () -> Void, lost: @escaping @Sendable () -> Void) throws -> @Sendable () -> Void {
        try listen(channel: Self.faceChannel, { _ in wake() }, lost: lost)
    }

    /// A connection of its own that hears `channel`: `heard` runs with each payload (on an event
    /// loop: keep it short); `lost` once if the connection ends. - Returns: a closer.
    public func listen(channel: String, _ heard: @escaping @Sendable (String) -> Void, lost: @escaping @Sendable () -> Void) throws -> @Sendable () -> Void {
        guard channel.allSatisfy({ $0.isLetter || $0 == "_" }) else { throw StoreError.invalid("channel name") }
        let connection = try connections.connect()
        connection.addListener(channel: channel) { _, note in heard(note.payload) }
        do {
            _ = try PostgresConnections.wait(connection.query(PostgresQuery(unsafeSQL: "LISTEN \(channel)"), logger: connections.logger),
                                             timeout: 10)
        } catch {
            _ = try? PostgresConnections.wait(connection.close(), timeout: 10)
            throw PostgresFailure(error).storeError
        }
        connection.closeFuture.whenComplete { _ in lost() }
        // Closed and waited for: a connection must be closed before its last reference goes.
        return { _ = try? PostgresConnections.wait(connection.close(), timeout: 10) }
    }

    /// Announces `payload` (at most 7,000 bytes) on `channel` to every node listening.
    public func notify(channel: String, payload: String) throws {
        guard payload.utf8.count <= 7_000 else { throw StoreError.invalid("a notification of \(payload.utf8.count) bytes") }
        try StoreFailures.guarded {
            try connections.with { connection in
                let session = PostgresSession(connection: connection, logger: connections.logger)
                try session.execute(sql: "SELECT pg_notify(?, ?)", arguments: [channel, payload])
            }
        }
    }
}

/// One entry of the face log, as a node applies it.
public struct FaceChange: Sendable {
    public let position: Int64
    public let faceID: String
    /// Added (with its template, unless removed since) or removed.
    public let added: Bool
    public let tenant: String
    public let mode: Mode
    public let gallery: String
    public let subjectID: String?
    public let template: [Float]?
    /// Its template is stored but did not open (a damaged row): not in the gallery, and reported.
    public let unreadable: Bool
}

extension PostgresStore {
    /// Creates an empty database beside the one `admin` names, for tests and demos. - Returns: its address.
    public static func scratchDatabase(admin: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let address = try PostgresAddress(admin, environment: environment)
        let name = "argus_" + Secrets.random(bytes: 9).lowercased().filter { $0.isLetter || $0.isNumber }
        let connections = PostgresConnections(address: address, limit: 1)
        defer { connections.close() }
        try connections.with { connection in
            do {
                _ = try connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "argus.store.postgres")).wait()
            } catch {
                throw PostgresFailure(error).storeError
            }
        }
        guard var parts = URLComponents(string: admin) else { throw StoreError.invalid("address") }
        parts.path = "/" + name
        return parts.string ?? admin
    }

    /// Drops a database made by `scratchDatabase` (its connections are ended first).
    public static func dropDatabase(admin: String, url: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let adminAddress = try? PostgresAddress(admin, environment: environment),
              let target = try? PostgresAddress(url, environment: environment), target.database.hasPrefix("argus_") else { return }
        let connections = PostgresConnections(address: adminAddress, limit: 1)
        defer { connections.close() }
        try? connections.with { connection in
            let quoted = "\"" + target.database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            _ = try? connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)"),
                                      logger: Logger(label: "argus.store.postgres")).wait()
        }
    }
}
