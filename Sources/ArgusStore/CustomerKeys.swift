public import Foundation
import GRDB

/// A public key of a tenant's own backend: customer tokens (JWTs it mints) are verified with it.
public struct CustomerKeyRecord: Sendable, Equatable {
    public let id: String
    public let tenantID: String
    public let mode: Mode
    public let kid: String
    /// `RS256`, `ES256` or `EdDSA`.
    public let alg: String
    public let publicKeyPEM: String
    public let createdAt: Date

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        mode = Mode(rawValue: row["mode"]) ?? .test
        kid = row["kid"]
        alg = row["alg"]
        publicKeyPEM = row["public_key_pem"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

extension SQLBackedStore {
    public func addCustomerKey(tenant: String, mode: Mode, kid: String, alg: String, publicKeyPEM: String) throws -> CustomerKeyRecord {
        let id = Secrets.identifier("cuk")
        do {
            return try write { db in
                try db.execute(sql: "INSERT INTO customer_keys(id, tenant_id, mode, kid, alg, public_key_pem, created_at) VALUES (?,?,?,?,?,?,?)",
                               arguments: [id, tenant, mode.rawValue, kid, alg, publicKeyPEM, Date().timeIntervalSince1970])
                guard let row = try db.fetchOne(sql: "SELECT * FROM customer_keys WHERE id = ?", arguments: [id]) else {
                    throw StoreError.unavailable("customer key \(id) was not stored")
                }
                return CustomerKeyRecord(row: row)
            }
        } catch StoreError.conflict {
            throw StoreError.conflict("a customer key with kid '\(kid)' is registered")
        }
    }

    public func customerKeys(tenant: String, mode: Mode) throws -> [CustomerKeyRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM customer_keys WHERE tenant_id = ? AND mode = ? AND deleted_at IS NULL ORDER BY created_at, id",
                             arguments: [tenant, mode.rawValue]).map(CustomerKeyRecord.init(row:))
        }
    }

    public func customerKey(tenant: String, kid: String) throws -> CustomerKeyRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM customer_keys WHERE tenant_id = ? AND kid = ? AND deleted_at IS NULL",
                             arguments: [tenant, kid]).map(CustomerKeyRecord.init(row:))
        }
    }

    public func deleteCustomerKey(tenant: String, mode: Mode, id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE customer_keys SET deleted_at = ? WHERE id = ? AND tenant_id = ? AND mode = ? AND deleted_at IS NULL",
                           arguments: [Date().timeIntervalSince1970, id, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

    public func customerSelfEnrollment(tenant: String) throws -> Bool {
        try read { db in try db.fetchOne(Int.self, sql: "SELECT customer_self_enrollment FROM tenants WHERE id = ?", arguments: [tenant]) == 1 }
    }

    public func setCustomerSelfEnrollment(tenant: String, enabled: Bool) throws {
        try write { db in
            try db.execute(sql: "UPDATE tenants SET customer_self_enrollment = ? WHERE id = ?", arguments: [enabled ? 1 : 0, tenant])
        }
    }
}
