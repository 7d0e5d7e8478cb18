public import Foundation
import GRDB

/// A public key registered on a credential, whose signatures authorise its user actions.
public struct SignerRecord: Sendable, Equatable {
    public let id: String
    public let credentialID: String
    /// `Ed25519`, `ES256`, `ES256K` or `RS256`.
    public let alg: String
    public let publicKeyPEM: String
    public let createdAt: Date
    public let revokedAt: Date?

    init(row: Row) {
        id = row["id"]
        credentialID = row["credential_id"]
        alg = row["alg"]
        publicKeyPEM = row["public_key_pem"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        revokedAt = (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

/// A challenge issued for one request (method, path, body digest) of one credential.
public struct ChallengeRecord: Sendable, Equatable {
    public let id: String
    public let credentialID: String
    public let method: String
    public let path: String
    public let bodySHA256: String
    /// ≥ 128 random bits, base64url.
    public let challenge: String
    public let expiresAt: Date

    public init(id: String, credentialID: String, method: String, path: String, bodySHA256: String, challenge: String, expiresAt: Date) {
        (self.id, self.credentialID, self.method, self.path, self.bodySHA256, self.challenge, self.expiresAt) =
            (id, credentialID, method, path, bodySHA256, challenge, expiresAt)
    }

    init(row: Row) {
        self.init(id: row["id"], credentialID: row["credential_id"], method: row["method"], path: row["path"], bodySHA256: row["body_sha256"],
                  challenge: row["challenge"], expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }
}

/// A completed (signed) challenge: good for exactly one request with its method, path and body.
public struct UserActionRecord: Sendable, Equatable {
    public let id: String
    public let credentialID: String
    public let signerID: String
    public let method: String
    public let path: String
    public let bodySHA256: String
    public let expiresAt: Date

    public init(id: String, credentialID: String, signerID: String, method: String, path: String, bodySHA256: String, expiresAt: Date) {
        (self.id, self.credentialID, self.signerID, self.method, self.path, self.bodySHA256, self.expiresAt) =
            (id, credentialID, signerID, method, path, bodySHA256, expiresAt)
    }

    init(row: Row) {
        self.init(id: row["id"], credentialID: row["credential_id"], signerID: row["signer_id"], method: row["method"], path: row["path"],
                  bodySHA256: row["body_sha256"], expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }
}

extension SQLBackedStore {
    public func addSigner(credentialID: String, alg: String, publicKeyPEM: String) throws -> SignerRecord {
        let id = Secrets.identifier("sgn")
        return try write { db in
            try db.execute(sql: "INSERT INTO signers(id, credential_id, alg, public_key_pem, created_at) VALUES (?,?,?,?,?)",
                           arguments: [id, credentialID, alg, publicKeyPEM, Date().timeIntervalSince1970])
            guard let row = try db.fetchOne(sql: "SELECT * FROM signers WHERE id = ?", arguments: [id]) else {
                throw StoreError.unavailable("signer \(id) was not stored")
            }
            return SignerRecord(row: row)
        }
    }

    public func signers(credentialID: String) throws -> [SignerRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM signers WHERE credential_id = ? ORDER BY created_at, id", arguments: [credentialID])
                .map(SignerRecord.init(row:))
        }
    }

    public func revokeSigner(credentialID: String, id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE signers SET revoked_at = ? WHERE id = ? AND credential_id = ? AND revoked_at IS NULL",
                           arguments: [Date().timeIntervalSince1970, id, credentialID])
            return db.changesCount > 0
        }
    }

    public func setSignedRequests(credentialID: String, required: Bool) throws {
        try write { db in
            try db.execute(sql: "UPDATE credentials SET signed_requests = ? WHERE id = ?", arguments: [required ? 1 : 0, credentialID])
        }
    }

    public func createChallenge(_ c: ChallengeRecord) throws {
        try write { db in
            let now = Date().timeIntervalSince1970
            // Expired challenges and used actions are kept an hour (for operators), then dropped.
            try db.execute(sql: "DELETE FROM challenges WHERE expires_at < ?", arguments: [now - 3600])
            try db.execute(sql: "DELETE FROM user_actions WHERE expires_at < ?", arguments: [now - 3600])
            try db.execute(sql: """
                INSERT INTO challenges(id, credential_id, method, path, body_sha256, challenge, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)
                """, arguments: [c.id, c.credentialID, c.method, c.path, c.bodySHA256, c.challenge, now, c.expiresAt.timeIntervalSince1970])
        }
    }

    public func takeChallenge(id: String) throws -> ChallengeRecord? {
        try write { db in
            try db.execute(sql: "UPDATE challenges SET taken_at = ? WHERE id = ? AND taken_at IS NULL", arguments: [Date().timeIntervalSince1970, id])
            guard db.changesCount > 0 else { return nil }
            return try db.fetchOne(sql: "SELECT * FROM challenges WHERE id = ?", arguments: [id]).map(ChallengeRecord.init(row:))
        }
    }

    public func createUserAction(_ a: UserActionRecord) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO user_actions(id, credential_id, signer_id, method, path, body_sha256, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)
                """, arguments: [a.id, a.credentialID, a.signerID, a.method, a.path, a.bodySHA256, Date().timeIntervalSince1970,
                                 a.expiresAt.timeIntervalSince1970])
        }
    }

    public func consumeUserAction(id: String, tenant: String, mode: Mode) throws -> UserActionRecord? {
        try write { db in
            try db.execute(sql: """
                UPDATE user_actions SET used_at = ? WHERE id = ? AND used_at IS NULL
                AND credential_id IN (SELECT id FROM credentials WHERE tenant_id = ? AND mode = ?)
                """, arguments: [Date().timeIntervalSince1970, id, tenant, mode.rawValue])
            guard db.changesCount > 0 else { return nil }
            return try db.fetchOne(sql: "SELECT * FROM user_actions WHERE id = ?", arguments: [id]).map(UserActionRecord.init(row:))
        }
    }
}
