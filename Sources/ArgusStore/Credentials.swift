public import Foundation
import GRDB

/// A stored credential (secret key, restricted key or client credential). Secrets are never stored.
public struct Credential: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// `sk_test_…` / `sk_live_…`: full tenant authority.
        case secret
        /// `rk_…`: only its scopes.
        case restricted
        /// `x-client-key` + `x-client-secret`: only its scopes.
        case client
    }

    public let id: String
    public let tenantID: String
    public let mode: Mode
    public let kind: Kind
    public let displayPrefix: String
    public let last4: String
    public let scopes: Set<Scope>
    public let name: String?
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let expiresAt: Date?
    public let revokedAt: Date?
    /// Every state-changing request of this credential needs a signed user action.
    public let signedRequests: Bool
    let lookup: String
    let secretDigest: Data

    /// Whether `digest` (SHA-256 of a presented secret) is this credential's, compared in constant time.
    public func matches(secretDigest digest: Data) -> Bool { Secrets.constantTimeEqual(secretDigest, digest) }

    /// Secret keys hold every scope; others only theirs.
    public func allows(_ scope: Scope) -> Bool { kind == .secret || scopes.contains(scope) }

    /// Whether it is live at `now`: neither revoked nor expired.
    public func isLive(at now: Date = Date()) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        mode = Mode(rawValue: row["mode"]) ?? .test
        kind = Kind(rawValue: row["kind"]) ?? .restricted
        displayPrefix = row["display_prefix"]
        last4 = row["last4"]
        let scopeText: String = row["scopes"]
        scopes = Set(scopeText.split(separator: " ").compactMap { Scope(rawValue: String($0)) })
        name = row["name"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        lastUsedAt = (row["last_used_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        expiresAt = (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        revokedAt = (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        signedRequests = (row["signed_requests"] as Int?) == 1
        lookup = row["lookup"]
        secretDigest = row["secret_digest"]
    }
}

/// A credential as created: its record and the secret material, shown to the caller once.
public struct IssuedCredential: Sendable {
    public let credential: Credential
    /// The bearer key (`sk_…`/`rk_…`), or the client secret for client credentials.
    public let secret: String
    /// The public client key, for client credentials.
    public let clientKey: String?
}

extension SQLBackedStore {
    /// Creates a credential. Keys are looked up by the digest of the secret; client credentials by
    /// their public key, with the secret's digest checked in constant time.
    public func createCredential(tenant: String, mode: Mode, kind: Credential.Kind, scopes: Set<Scope>, name: String?,
                                 expiresAt: Date?) throws -> IssuedCredential {
        try write { db in try Self.insertCredential(db, tenant: tenant, mode: mode, kind: kind, scopes: scopes, name: name, expiresAt: expiresAt) }
    }

    /// Makes a credential's secret and stores its digest, inside a transaction that is already open.
    static func insertCredential(_ db: any SQLDatabase, tenant: String, mode: Mode, kind: Credential.Kind, scopes: Set<Scope>, name: String?,
                                 expiresAt: Date?) throws -> IssuedCredential {
        let id = Secrets.identifier("key")
        let secret: String, lookup: String, clientKey: String?, prefix: String
        switch kind {
        case .secret, .restricted:
            prefix = "\(kind == .secret ? "sk" : "rk")_\(mode.rawValue)_"
            secret = prefix + Secrets.random(bytes: 24)
            lookup = "k:" + Secrets.hex(Secrets.digest(secret))
            clientKey = nil
        case .client:
            prefix = "ck_\(mode.rawValue)_"
            let key = prefix + Secrets.random(bytes: 12)
            secret = "cs_\(mode.rawValue)_" + Secrets.random(bytes: 24)
            lookup = "c:" + key
            clientKey = key
        }
        let scopeText = (kind == .secret ? Set(Scope.allCases) : scopes).map(\.rawValue).sorted().joined(separator: " ")
        try db.execute(sql: """
            INSERT INTO credentials(id, tenant_id, mode, kind, lookup, secret_digest, display_prefix, last4, scopes, name, created_at, expires_at)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
            """, arguments: [id, tenant, mode.rawValue, kind.rawValue, lookup, Secrets.digest(secret), clientKey ?? prefix,
                             String(secret.suffix(4)), scopeText, name, Date().timeIntervalSince1970, expiresAt?.timeIntervalSince1970])
        guard let row = try db.fetchOne(sql: "SELECT * FROM credentials WHERE id = ?", arguments: [id]) else {
            throw StoreError.unavailable("credential \(id) was not stored")
        }
        return IssuedCredential(credential: Credential(row: row), secret: secret, clientKey: clientKey)
    }

    public func credential(id: String) throws -> Credential? {
        try read { db in try db.fetchOne(sql: "SELECT * FROM credentials WHERE id = ?", arguments: [id]).map(Credential.init(row:)) }
    }

    public func credential(lookup: String) throws -> Credential? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM credentials WHERE lookup = ?", arguments: [lookup]).map(Credential.init(row:))
        }
    }

    public func credentials(tenant: String, mode: Mode?) throws -> [Credential] {
        try read { db in
            if let mode {
                return try db.fetchAll(sql: "SELECT * FROM credentials WHERE tenant_id = ? AND mode = ? ORDER BY created_at, id",
                                        arguments: [tenant, mode.rawValue]).map(Credential.init(row:))
            }
            return try db.fetchAll(sql: "SELECT * FROM credentials WHERE tenant_id = ? ORDER BY created_at, id",
                                    arguments: [tenant]).map(Credential.init(row:))
        }
    }

    /// Replaces a live credential by a new one with the same kind, mode, scopes and lifetime; the
    /// old one keeps working for `overlap` seconds (0 = it stops now). Revoked and expired
    /// credentials are not rolled: that would resurrect a key its owner meant to end.
    public func roll(credentialID: String, overlap: TimeInterval, now: Date) throws -> IssuedCredential {
        // One transaction: of concurrent rolls of one key (on any node) exactly one makes a successor.
        let fresh = try write { db -> IssuedCredential in
            guard let row = try db.fetchOne(sql: "SELECT * FROM credentials WHERE id = ?", arguments: [credentialID]) else {
                throw StoreError.notFound("key")
            }
            let old = Credential(row: row)
            guard old.revokedAt == nil else { throw StoreError.invalid("key \(old.id) is revoked and cannot be rolled") }
            if let expires = old.expiresAt, expires <= now { throw StoreError.invalid("key \(old.id) has expired and cannot be rolled") }
            if let successor: String = row["rolled_to"] {
                throw StoreError.invalid("key \(old.id) was already rolled to \(successor): roll that one")
            }
            // The new key lives as long as the old one was meant to, counted from now.
            let lifetime = old.expiresAt.map { $0.timeIntervalSince(old.createdAt) }
            let fresh = try Self.insertCredential(db, tenant: old.tenantID, mode: old.mode, kind: old.kind, scopes: old.scopes, name: old.name,
                                                  expiresAt: lifetime.map { now.addingTimeInterval($0) })
            let until = min(old.expiresAt?.timeIntervalSince1970 ?? .infinity, now.timeIntervalSince1970 + max(0, overlap))
            try db.execute(sql: "UPDATE credentials SET expires_at = ?, rolled_to = ? WHERE id = ? AND rolled_to IS NULL AND revoked_at IS NULL",
                           arguments: [until, fresh.credential.id, credentialID])
            guard db.changesCount == 1 else { throw StoreError.conflict("key \(old.id) changed while it was rolled") }
            // The new key is held to the same signing rule, by the same signers: a roll is never a way around it.
            try db.execute(sql: "UPDATE credentials SET signed_requests = ? WHERE id = ?", arguments: [old.signedRequests ? 1 : 0, fresh.credential.id])
            for row in try db.fetchAll(sql: "SELECT alg, public_key_pem FROM signers WHERE credential_id = ? AND revoked_at IS NULL",
                                        arguments: [credentialID]) {
                try db.execute(sql: "INSERT INTO signers(id, credential_id, alg, public_key_pem, created_at) VALUES (?,?,?,?,?)",
                               arguments: [Secrets.identifier("sgn"), fresh.credential.id, row["alg"] as String, row["public_key_pem"] as String,
                                           now.timeIntervalSince1970])
            }
            return fresh
        }
        guard let rolled = try credential(id: fresh.credential.id) else { throw StoreError.unavailable("rolled credential vanished") }
        return IssuedCredential(credential: rolled, secret: fresh.secret, clientKey: fresh.clientKey)
    }

    /// Revokes at once, with every live session the credential minted (a token never outlives
    /// the authority that minted it). - Returns: whether the credential existed and was live.
    @discardableResult
    public func revoke(credentialID: String) throws -> Bool {
        try write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, credentialID])
            let changed = db.changesCount > 0
            try db.execute(sql: "UPDATE sessions SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL AND spent_at IS NULL",
                           arguments: [now, credentialID])
            return changed
        }
    }

    /// Records use, at most once a minute per credential: every write here is fsynced, and a
    /// per-request fsync would cost more than the request.
    public func touch(credentialID: String) {
        let now = Date().timeIntervalSince1970
        let due = core.lastTouched.withLock { seen -> Bool in
            if let last = seen[credentialID], now - last < 60 { return false }
            seen[credentialID] = now
            return true
        }
        guard due else { return }
        // Bookkeeping: a serializable write here lost races to (and delayed) the log-in attempts of
        // a flood on PostgreSQL, and a request waited for its own retries (0.2-0.5 s measured).
        try? bookkeeping { db in
            try db.execute(sql: "UPDATE credentials SET last_used_at = ? WHERE id = ?", arguments: [Date().timeIntervalSince1970, credentialID])
        }
    }
}
