public import Foundation
import GRDB

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

extension SQLiteStore {
    public func createSession(_ s: NewSession) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO sessions(id, tenant_id, mode, credential_id, purpose, subject_id, customer_ref, created_at, expires_at, max_attempts)
                VALUES (?,?,?,?,?,?,?,?,?,?)
                """, arguments: [s.id, s.tenant, s.mode.rawValue, s.credential, s.purpose.rawValue, s.subject, s.customerRef,
                                 Date().timeIntervalSince1970, s.expiresAt.timeIntervalSince1970, s.maxAttempts])
        }
    }

    public func session(id: String) throws -> SessionRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(SessionRecord.init(row:)) }
    }

    public func beginAttempt(sessionID: String) throws -> SessionRecord {
        try write { db in
            try db.execute(sql: """
                UPDATE sessions SET attempts = attempts + 1
                WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts
                """, arguments: [sessionID])
            let claimed = db.changesCount > 0
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [sessionID]) else {
                throw StoreError.sessionUnknown
            }
            let record = SessionRecord(row: row)
            if !claimed {
                if record.revokedAt != nil { throw StoreError.sessionRevoked }
                throw StoreError.sessionSpent(record.spentAt != nil ? "This session was already used successfully" : "This session has no attempts left")
            }
            return record
        }
    }

    public func spend(sessionID: String) throws -> Bool {
        try write { db in try Self.spend(db, sessionID: sessionID) }
    }

    static func spend(_ db: Database, sessionID: String) throws -> Bool {
        try db.execute(sql: "UPDATE sessions SET spent_at = ? WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL",
                       arguments: [Date().timeIntervalSince1970, sessionID])
        return db.changesCount > 0
    }

    public func revokeSession(tenant: String, mode: Mode, id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE sessions SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND mode = ? AND revoked_at IS NULL",
                           arguments: [Date().timeIntervalSince1970, id, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

    public func signingKeys() throws -> [SigningKeyRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signing_keys ORDER BY created_at").map { row in
                let kid: String = row["kid"]
                return SigningKeyRecord(kid: kid, privateKey: try vault.unwrap(row["sealed_private_key"], context: KeyVault.signingKeyContext(kid: kid)),
                                        createdAt: Date(timeIntervalSince1970: row["created_at"]),
                                        retiredAt: (row["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func addSigningKey(kid: String, privateKey: Data, retiringOthers: Bool) throws {
        let sealed = try Self.guarded { try vault.wrap(privateKey, context: KeyVault.signingKeyContext(kid: kid)) }
        try write { db in
            let now = Date().timeIntervalSince1970
            if retiringOthers { try db.execute(sql: "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL", arguments: [now]) }
            try db.execute(sql: "INSERT INTO signing_keys(kid, sealed_private_key, created_at) VALUES (?,?,?)", arguments: [kid, sealed, now])
        }
    }
}
