public import Foundation
import GRDB

/// A console user: one tenant, one role.
public struct UserRecord: Sendable, Equatable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// Everything, the team included.
        case owner
        /// Keys, sessions, subjects, audit.
        case developer
        /// Sessions, subjects and audit, read only; never keys.
        case viewer
    }
    public let id: String
    public let tenantID: String
    public let email: String
    public let role: Role
    public let createdAt: Date
    /// The password's KDF output and parameters (see `PasswordHash`).
    public let passwordHash: String

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        email = row["email"]
        role = Role(rawValue: row["role"]) ?? .viewer
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        passwordHash = row["password_hash"]
    }
}

/// A signed-in console session; the cookie holds a secret whose SHA-256 is `digest`.
public struct ConsoleSessionRecord: Sendable, Equatable {
    public let digest: String
    public let userID: String
    public let csrf: String
    public let mode: Mode
    public let expiresAt: Date
    public init(digest: String, userID: String, csrf: String, mode: Mode, expiresAt: Date) {
        (self.digest, self.userID, self.csrf, self.mode, self.expiresAt) = (digest, userID, csrf, mode, expiresAt)
    }
    init(row: Row) {
        self.init(digest: row["digest"], userID: row["user_id"], csrf: row["csrf"], mode: Mode(rawValue: row["mode"]) ?? .test,
                  expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }
}

/// An invitation link: to a tenant with a role, or (tenant nil) to sign up a new tenant.
public struct InviteRecord: Sendable, Equatable {
    public let digest: String
    public let tenantID: String?
    public let role: UserRecord.Role
    public let expiresAt: Date
    public init(digest: String, tenantID: String?, role: UserRecord.Role, expiresAt: Date) {
        (self.digest, self.tenantID, self.role, self.expiresAt) = (digest, tenantID, role, expiresAt)
    }
    init(row: Row) {
        self.init(digest: row["digest"], tenantID: row["tenant_id"], role: UserRecord.Role(rawValue: row["role"]) ?? .viewer,
                  expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }
}

/// One audit row, typed.
public struct AuditRecord: Sendable, Equatable {
    public let id: Int64
    public let at: Date
    public let credential: String?
    public let operation: String
    public let subject: String?
    public let target: String?
    public let outcome: String
    public let requestID: String?
}

/// What the audit log is filtered by.
public struct AuditFilter: Sendable {
    /// Rows of this mode, and rows in no mode (tenant-wide actions).
    public var mode: Mode?
    public var operation: String?
    public var credential: String?
    public var from: Date?
    public var until: Date?
    public var limit = 200
    public init(mode: Mode? = nil, operation: String? = nil, credential: String? = nil, from: Date? = nil, until: Date? = nil, limit: Int = 200) {
        (self.mode, self.operation, self.credential, self.from, self.until, self.limit) = (mode, operation, credential, from, until, limit)
    }
}

extension SQLBackedStore {
    public func signUp(tenantName: String, email: String, passwordHash: String, inviteDigest: String?) throws -> (TenantRecord, UserRecord, IssuedCredential) {
        let tenantID = Secrets.identifier("ten"), userID = Secrets.identifier("usr")
        let wrapped = try Self.guarded { try vault.newWrappedDataKey(tenant: tenantID) }
        do {
            return try write { db in
                let now = Date().timeIntervalSince1970
                if let inviteDigest {
                    try db.execute(sql: "UPDATE invites SET used_at = ? WHERE digest = ? AND tenant_id IS NULL AND used_at IS NULL AND expires_at > ?",
                                   arguments: [now, inviteDigest, now])
                    guard db.changesCount > 0 else { throw StoreError.invalid("the invitation is unknown, used or expired") }
                }
                try db.execute(sql: "INSERT INTO tenants(id, name, created_at, wrapped_data_key, status) VALUES (?,?,?,?, 'active')",
                               arguments: [tenantID, tenantName, now, wrapped])
                try db.execute(sql: "INSERT INTO users(id, tenant_id, email, password_hash, role, created_at) VALUES (?,?,?,?,?,?)",
                               arguments: [userID, tenantID, email.lowercased(), passwordHash, UserRecord.Role.owner.rawValue, now])
                let key = try Self.insertCredential(db, tenant: tenantID, mode: .test, kind: .secret, scopes: [], name: "first key", expiresAt: nil)
                guard let t = try db.fetchOne(sql: "SELECT * FROM tenants WHERE id = ?", arguments: [tenantID]),
                      let u = try db.fetchOne(sql: "SELECT * FROM users WHERE id = ?", arguments: [userID]) else {
                    throw StoreError.unavailable("sign-up was not stored")
                }
                return (TenantRecord(row: t), UserRecord(row: u), key)
            }
        } catch StoreError.conflict {
            throw StoreError.conflict("an account with this e-mail already exists")
        }
    }

    public func joinTenant(inviteDigest: String, email: String, passwordHash: String) throws -> UserRecord {
        let userID = Secrets.identifier("usr")
        do {
            return try write { db in
                let now = Date().timeIntervalSince1970
                guard let invite = try db.fetchOne(sql: "SELECT * FROM invites WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
                                                    arguments: [inviteDigest, now]).map(InviteRecord.init(row:)), let tenant = invite.tenantID else {
                    throw StoreError.invalid("the invitation is unknown, used or expired")
                }
                guard try db.fetchOne(String.self, sql: "SELECT status FROM tenants WHERE id = ?", arguments: [tenant]) == TenantRecord.Status.active.rawValue else {
                    throw StoreError.invalid("the organisation is suspended")
                }
                try db.execute(sql: "UPDATE invites SET used_at = ? WHERE digest = ?", arguments: [now, inviteDigest])
                try db.execute(sql: "INSERT INTO users(id, tenant_id, email, password_hash, role, created_at) VALUES (?,?,?,?,?,?)",
                               arguments: [userID, tenant, email.lowercased(), passwordHash, invite.role.rawValue, now])
                guard let u = try db.fetchOne(sql: "SELECT * FROM users WHERE id = ?", arguments: [userID]) else {
                    throw StoreError.unavailable("user \(userID) was not stored")
                }
                return UserRecord(row: u)
            }
        } catch StoreError.conflict {
            throw StoreError.conflict("an account with this e-mail already exists")
        }
    }

    public func createUser(tenant: String, email: String, passwordHash: String, role: UserRecord.Role) throws -> UserRecord {
        let id = Secrets.identifier("usr")
        do {
            return try write { db in
                try db.execute(sql: "INSERT INTO users(id, tenant_id, email, password_hash, role, created_at) VALUES (?,?,?,?,?,?)",
                               arguments: [id, tenant, email.lowercased(), passwordHash, role.rawValue, Date().timeIntervalSince1970])
                guard let row = try db.fetchOne(sql: "SELECT * FROM users WHERE id = ?", arguments: [id]) else {
                    throw StoreError.unavailable("user \(id) was not stored")
                }
                return UserRecord(row: row)
            }
        } catch StoreError.conflict {
            throw StoreError.conflict("an account with this e-mail already exists")
        }
    }

    public func user(email: String) throws -> UserRecord? {
        try read { db in try db.fetchOne(sql: "SELECT * FROM users WHERE email = ?", arguments: [email.lowercased()]).map(UserRecord.init(row:)) }
    }

    public func user(id: String) throws -> UserRecord? {
        try read { db in try db.fetchOne(sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init(row:)) }
    }

    public func users(tenant: String) throws -> [UserRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM users WHERE tenant_id = ? ORDER BY created_at, id", arguments: [tenant]).map(UserRecord.init(row:))
        }
    }

    public func setPassword(userID: String, passwordHash: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [passwordHash, userID])
            // Every other session of the account ends with the old password.
            try db.execute(sql: "DELETE FROM console_sessions WHERE user_id = ?", arguments: [userID])
        }
    }

    public func createConsoleSession(_ s: ConsoleSessionRecord) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM console_sessions WHERE expires_at < ?", arguments: [Date().timeIntervalSince1970])
            try db.execute(sql: "INSERT INTO console_sessions(digest, user_id, csrf, mode, created_at, expires_at) VALUES (?,?,?,?,?,?)",
                           arguments: [s.digest, s.userID, s.csrf, s.mode.rawValue, Date().timeIntervalSince1970, s.expiresAt.timeIntervalSince1970])
        }
    }

    public func consoleSession(digest: String) throws -> ConsoleSessionRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM console_sessions WHERE digest = ? AND expires_at > ?",
                             arguments: [digest, Date().timeIntervalSince1970]).map(ConsoleSessionRecord.init(row:))
        }
    }

    public func setConsoleMode(digest: String, mode: Mode) throws {
        try write { db in try db.execute(sql: "UPDATE console_sessions SET mode = ? WHERE digest = ?", arguments: [mode.rawValue, digest]) }
    }

    public func endConsoleSession(digest: String) throws {
        try write { db in try db.execute(sql: "DELETE FROM console_sessions WHERE digest = ?", arguments: [digest]) }
    }

    public func createInvite(_ invite: InviteRecord, createdBy: String?) throws {
        try write { db in
            try db.execute(sql: "INSERT INTO invites(digest, tenant_id, role, created_by, created_at, expires_at) VALUES (?,?,?,?,?,?)",
                           arguments: [invite.digest, invite.tenantID, invite.role.rawValue, createdBy, Date().timeIntervalSince1970,
                                       invite.expiresAt.timeIntervalSince1970])
        }
    }

    public func invite(digest: String) throws -> InviteRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM invites WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
                             arguments: [digest, Date().timeIntervalSince1970]).map(InviteRecord.init(row:))
        }
    }

    public func takeInvite(digest: String) throws -> InviteRecord? {
        try write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE invites SET used_at = ? WHERE digest = ? AND used_at IS NULL AND expires_at > ?", arguments: [now, digest, now])
            guard db.changesCount > 0 else { return nil }
            return try db.fetchOne(sql: "SELECT * FROM invites WHERE digest = ?", arguments: [digest]).map(InviteRecord.init(row:))
        }
    }

    public func sessions(tenant: String, mode: Mode, limit: Int) throws -> [SessionRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM sessions WHERE tenant_id = ? AND mode = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                             arguments: [tenant, mode.rawValue, limit]).map(SessionRecord.init(row:))
        }
    }

    public func auditEntries(tenant: String, filter: AuditFilter) throws -> [AuditRecord] {
        try read { db in
            var sql = "SELECT * FROM audit WHERE tenant_id = ?"
            var arguments: SQLArguments = [tenant]
            if let mode = filter.mode { sql += " AND (mode = ? OR mode IS NULL)"; arguments += [mode.rawValue] }
            // A prefix, compared exactly on both backends (LIKE folds case on SQLite and not on PostgreSQL, and reads `_` and `%`).
            if let operation = filter.operation { sql += " AND substr(operation, 1, ?) = ?"; arguments += [operation.count, operation] }
            if let credential = filter.credential { sql += " AND credential_id = ?"; arguments += [credential] }
            if let from = filter.from { sql += " AND at >= ?"; arguments += [from.timeIntervalSince1970] }
            if let until = filter.until { sql += " AND at < ?"; arguments += [until.timeIntervalSince1970] }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments += [max(1, min(1000, filter.limit))]
            return try db.fetchAll(sql: sql, arguments: arguments).map { row in
                AuditRecord(id: row["id"], at: Date(timeIntervalSince1970: row["at"]), credential: row["credential_id"], operation: row["operation"],
                            subject: row["subject_id"], target: row["target_id"], outcome: row["outcome"], requestID: row["request_id"])
            }
        }
    }
}
