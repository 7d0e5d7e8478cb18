public import Foundation
import GRDB

/// A tenant's application public key: client-custody subject keys are wrapped to it.
public struct AppKeyRecord: Sendable, Equatable {
    public let id: String
    public let tenantID: String
    public let mode: Mode
    /// `RSA-OAEP-256` or `HPKE-X25519`.
    public let alg: String
    public let publicKeyPEM: String
    public let createdAt: Date

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        mode = Mode(rawValue: row["mode"]) ?? .test
        alg = row["alg"]
        publicKeyPEM = row["public_key_pem"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

extension SQLBackedStore {
    public func addAppKey(tenant: String, mode: Mode, alg: String, publicKeyPEM: String) throws -> AppKeyRecord {
        let id = Secrets.identifier("apk")
        return try write { db in
            try db.execute(sql: "INSERT INTO app_keys(id, tenant_id, mode, alg, public_key_pem, created_at) VALUES (?,?,?,?,?,?)",
                           arguments: [id, tenant, mode.rawValue, alg, publicKeyPEM, Date().timeIntervalSince1970])
            guard let row = try db.fetchOne(sql: "SELECT * FROM app_keys WHERE id = ?", arguments: [id]) else {
                throw StoreError.unavailable("app key \(id) was not stored")
            }
            return AppKeyRecord(row: row)
        }
    }

    public func appKey(tenant: String, mode: Mode) throws -> AppKeyRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM app_keys WHERE tenant_id = ? AND mode = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                             arguments: [tenant, mode.rawValue]).map(AppKeyRecord.init(row:))
        }
    }

    public func appKeys(tenant: String, mode: Mode) throws -> [AppKeyRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM app_keys WHERE tenant_id = ? AND mode = ? ORDER BY created_at DESC, id DESC",
                             arguments: [tenant, mode.rawValue]).map(AppKeyRecord.init(row:))
        }
    }
}
