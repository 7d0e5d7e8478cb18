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
    public let createdAt: Date

    /// How it ended, or that it has not.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case pending, succeeded, failed, expired, revoked
    }

    public func status(at now: Date = Date()) -> Status {
        if spentAt != nil { return .succeeded }
        if revokedAt != nil { return .revoked }
        if attempts >= maxAttempts { return .failed }
        if expiresAt <= now { return .expired }
        return .pending
    }

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
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

/// One attempt of a session: when, and what the service decided.
public struct SessionAttempt: Sendable, Equatable {
    public let at: Date
    /// nil when the attempt ended before a comparison (no face, an invalid image…).
    public let score: Double?
    public let threshold: Double?
    public let match: Bool?
    /// `match`, `no_match`, `enrolled`, or the error code that ended it.
    public let outcome: String
}

/// What sessions are listed by.
public struct SessionFilter: Sendable {
    public var status: SessionRecord.Status?
    public var subject: String?
    public var customerRef: String?
    public var limit = 20
    public var after: String?
    public init(status: SessionRecord.Status? = nil, subject: String? = nil, customerRef: String? = nil, limit: Int = 20, after: String? = nil) {
        (self.status, self.subject, self.customerRef, self.limit, self.after) = (status, subject, customerRef, limit, after)
    }
}

extension SQLBackedStore {
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
        try read { db in try db.fetchOne(sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(SessionRecord.init(row:)) }
    }

    public func beginAttempt(sessionID: String) throws -> SessionRecord {
        try write { db in
            try db.execute(sql: """
                UPDATE sessions SET attempts = attempts + 1
                WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts
                """, arguments: [sessionID])
            let claimed = db.changesCount > 0
            guard let row = try db.fetchOne(sql: "SELECT * FROM sessions WHERE id = ?", arguments: [sessionID]) else {
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

    public func recordAttempt(sessionID: String, score: Double?, threshold: Double?, match: Bool?, outcome: String,
                              spending: Bool) throws -> Bool {
        try write { db in
            try db.execute(sql: "INSERT INTO session_attempts(session_id, at, score, threshold, matched, outcome) VALUES (?,?,?,?,?,?)",
                           arguments: [sessionID, Date().timeIntervalSince1970, score, threshold, match.map { $0 ? 1 : 0 }, outcome])
            guard let row = try db.fetchOne(sql: "SELECT * FROM sessions WHERE id = ?", arguments: [sessionID]) else { return false }
            let session = SessionRecord(row: row)
            var data: [String: any Sendable] = ["session_id": session.id, "subject_id": session.subjectID ?? "", "customer_ref": session.customerRef,
                                                "purpose": session.purpose.rawValue, "outcome": outcome]
            if let score { data["score"] = score }
            guard spending else {
                // The last attempt failed: the session is over. Claims still in flight may yet be given
                // back (shed before analysis), so it is over only when finished attempts reach the limit.
                let finished = try db.fetchOne(Int.self, sql: "SELECT COUNT(*) FROM session_attempts WHERE session_id = ?", arguments: [sessionID]) ?? 0
                if match != true && finished >= session.maxAttempts {
                    try Self.emit([NewEvent(type: .sessionFailed, data: data)], tenant: session.tenantID, mode: session.mode, db)
                }
                return true
            }
            // Spent with its success in one transaction: if another success spent it first, this one rolls back.
            guard try Self.spend(db, sessionID: sessionID) else { throw StoreError.sessionSpent("This session was already used successfully") }
            try Self.emit([NewEvent(type: .sessionSucceeded, data: data)], tenant: session.tenantID, mode: session.mode, db)
            return true
        }
    }

    public func refundAttempt(sessionID: String) throws {
        // Nothing is recorded: the attempt did not happen (and a flood of sheds writes no rows).
        try write { db in
            try db.execute(sql: "UPDATE sessions SET attempts = attempts - 1 WHERE id = ? AND attempts > 0", arguments: [sessionID])
        }
    }

    public func attempts(sessionID: String) throws -> [SessionAttempt] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM session_attempts WHERE session_id = ? ORDER BY id", arguments: [sessionID]).map { row in
                SessionAttempt(at: Date(timeIntervalSince1970: row["at"]), score: row["score"], threshold: row["threshold"],
                               match: (row["matched"] as Int?).map { $0 == 1 }, outcome: row["outcome"])
            }
        }
    }

    public func sessions(tenant: String, mode: Mode, filter: SessionFilter) throws -> (sessions: [SessionRecord], hasMore: Bool) {
        try read { db in
            var sql = "SELECT * FROM sessions WHERE tenant_id = ? AND mode = ?"
            var arguments: SQLArguments = [tenant, mode.rawValue]
            let now = Date().timeIntervalSince1970
            switch filter.status {
            case .succeeded?: sql += " AND spent_at IS NOT NULL"
            case .revoked?: sql += " AND spent_at IS NULL AND revoked_at IS NOT NULL"
            case .failed?: sql += " AND spent_at IS NULL AND revoked_at IS NULL AND attempts >= max_attempts"
            case .expired?: sql += " AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts AND expires_at <= ?"; arguments += [now]
            case .pending?: sql += " AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts AND expires_at > ?"; arguments += [now]
            case nil: break
            }
            if let subject = filter.subject { sql += " AND subject_id = ?"; arguments += [subject] }
            if let ref = filter.customerRef { sql += " AND customer_ref = ?"; arguments += [ref] }
            if let after = filter.after {
                guard let cursor = try db.fetchOne(sql: "SELECT created_at, id FROM sessions WHERE id = ? AND tenant_id = ? AND mode = ?",
                                                    arguments: [after, tenant, mode.rawValue]) else {
                    throw StoreError.invalid("starting_after: no session \(after) in this mode")
                }
                let at: Double = cursor["created_at"]
                // Newest first: the next page is older.
                sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
                arguments += [at, at, cursor["id"] as String]
            }
            let limit = max(1, min(100, filter.limit))
            sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
            arguments += [limit + 1]
            let rows = try db.fetchAll(sql: sql, arguments: arguments)
            return (rows.prefix(limit).map(SessionRecord.init(row:)), rows.count > limit)
        }
    }

    public func spend(sessionID: String) throws -> Bool {
        try write { db in try Self.spend(db, sessionID: sessionID) }
    }

    static func spend(_ db: any SQLDatabase, sessionID: String) throws -> Bool {
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
            try db.fetchAll(sql: "SELECT * FROM signing_keys ORDER BY created_at").map { row in
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
