public import Foundation
public import GRDB

/// A minted session: what its token may do, and how often it has been tried.
public struct SessionRecord: Sendable, Equatable {
    public enum Purpose: String, Sendable, Codable { case verify, enroll }
    public let id: String
    public let tenantID: String
    public let mode: Mode
    /// The credential that minted it: the session lives only while that credential does.
    public let credentialID: String
    public let purpose: Purpose
    public let subjectID: String?
    public let customerRef: String
    public let expiresAt: Date
    public let attempts: Int
    public let maxAttempts: Int
    public let spentAt: Date?
    public let revokedAt: Date?

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        mode = Mode(rawValue: row["mode"]) ?? .test
        credentialID = row["credential_id"]
        purpose = Purpose(rawValue: row["purpose"]) ?? .verify
        subjectID = row["subject_id"]
        customerRef = row["customer_ref"]
        expiresAt = Date(timeIntervalSince1970: row["expires_at"])
        attempts = row["attempts"]
        maxAttempts = row["max_attempts"]
        spentAt = (row["spent_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        revokedAt = (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

extension ArgusStore {
    func createSession(id: String, tenant: String, mode: Mode, credential: String, purpose: SessionRecord.Purpose, subject: String?,
                       customerRef: String, expiresAt: Date, maxAttempts: Int) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO sessions(id, tenant_id, mode, credential_id, purpose, subject_id, customer_ref, created_at, expires_at, max_attempts)
                VALUES (?,?,?,?,?,?,?,?,?,?)
                """, arguments: [id, tenant, mode.rawValue, credential, purpose.rawValue, subject, customerRef,
                                 Date().timeIntervalSince1970, expiresAt.timeIntervalSince1970, maxAttempts])
        }
    }

    func session(id: String) throws -> SessionRecord? {
        try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(SessionRecord.init(row:)) }
    }

    /// Claims one attempt atomically: fails when the session is spent, revoked or out of attempts.
    func beginAttempt(sessionID: String) throws -> SessionRecord {
        try pool.write { db in
            try db.execute(sql: """
                UPDATE sessions SET attempts = attempts + 1
                WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts
                """, arguments: [sessionID])
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [sessionID]) else {
                throw APIError.invalidCredentials
            }
            let record = SessionRecord(row: row)
            if db.changesCount == 0 {
                if record.revokedAt != nil { throw APIError.revokedCredentials }
                throw APIError.sessionSpent(record.spentAt != nil ? "This session was already used successfully" : "This session has no attempts left")
            }
            return record
        }
    }

    /// Spends a session with its success, atomically: of any number of concurrent successes
    /// exactly one spends it. - Returns: false when it was already spent or was revoked meanwhile.
    func spend(sessionID: String) throws -> Bool {
        try pool.write { db in try Self.spend(db, sessionID: sessionID) }
    }

    static func spend(_ db: Database, sessionID: String) throws -> Bool {
        try db.execute(sql: "UPDATE sessions SET spent_at = ? WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL",
                       arguments: [Date().timeIntervalSince1970, sessionID])
        return db.changesCount > 0
    }

    func revokeSession(tenant: String, mode: Mode, id: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "UPDATE sessions SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND mode = ? AND revoked_at IS NULL",
                           arguments: [Date().timeIntervalSince1970, id, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

    func signingKeys() throws -> [(kid: String, sealed: Data, createdAt: Date, retiredAt: Date?)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signing_keys ORDER BY created_at").map {
                ($0["kid"], $0["sealed_private_key"], Date(timeIntervalSince1970: $0["created_at"]),
                 ($0["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    func insertSigningKey(kid: String, sealed: Data, retiring others: Bool) throws {
        try pool.write { db in
            let now = Date().timeIntervalSince1970
            if others { try db.execute(sql: "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL", arguments: [now]) }
            try db.execute(sql: "INSERT INTO signing_keys(kid, sealed_private_key, created_at) VALUES (?,?,?)", arguments: [kid, sealed, now])
        }
    }
}
