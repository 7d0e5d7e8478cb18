public import Foundation
import GRDB

/// A tenant as the platform operator sees it.
public struct TenantRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case active, suspended }
    public let id: String
    public let name: String
    public let status: Status
    public let createdAt: Date

    init(row: Row) {
        id = row["id"]
        name = row["name"]
        status = Status(rawValue: row["status"] ?? "active") ?? .active
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

/// An operator key (`op_…`): manages tenants through the operator API; never a tenant credential.
public struct OperatorKeyRecord: Sendable, Equatable {
    public let id: String
    public let name: String?
    public let last4: String
    public let createdAt: Date
    public let revokedAt: Date?
    let secretDigest: Data

    public func matches(secretDigest digest: Data) -> Bool { Secrets.constantTimeEqual(secretDigest, digest) }

    init(row: Row) {
        id = row["id"]
        name = row["name"]
        last4 = row["last4"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        revokedAt = (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        secretDigest = row["secret_digest"]
    }
}

extension SQLBackedStore {
    public func createTenant(name: String) throws -> TenantRecord {
        let id = Secrets.identifier("ten")
        let wrapped = try Self.guarded { try vault.newWrappedDataKey(tenant: id) }
        return try write { db in
            try db.execute(sql: "INSERT INTO tenants(id, name, created_at, wrapped_data_key, status) VALUES (?,?,?,?, 'active')",
                           arguments: [id, name, Date().timeIntervalSince1970, wrapped])
            guard let row = try db.fetchOne(sql: "SELECT * FROM tenants WHERE id = ?", arguments: [id]) else {
                throw StoreError.unavailable("tenant \(id) was not stored")
            }
            return TenantRecord(row: row)
        }
    }

    public func tenants() throws -> [TenantRecord] {
        try read { db in try db.fetchAll(sql: "SELECT * FROM tenants ORDER BY created_at, id").map(TenantRecord.init(row:)) }
    }

    public func tenant(id: String) throws -> TenantRecord? {
        try read { db in try db.fetchOne(sql: "SELECT * FROM tenants WHERE id = ?", arguments: [id]).map(TenantRecord.init(row:)) }
    }

    public func setTenantStatus(id: String, status: TenantRecord.Status) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE tenants SET status = ? WHERE id = ?", arguments: [status.rawValue, id])
            return db.changesCount > 0
        }
    }

    public func createOperatorKey(name: String?) throws -> (record: OperatorKeyRecord, secret: String) {
        let id = Secrets.identifier("opk")
        let secret = "op_" + Secrets.random(bytes: 24)
        let digest = Secrets.digest(secret)
        return try write { db in
            try db.execute(sql: "INSERT INTO operator_keys(id, lookup, secret_digest, last4, name, created_at) VALUES (?,?,?,?,?,?)",
                           arguments: [id, Secrets.hex(digest), digest, String(secret.suffix(4)), name, Date().timeIntervalSince1970])
            guard let row = try db.fetchOne(sql: "SELECT * FROM operator_keys WHERE id = ?", arguments: [id]) else {
                throw StoreError.unavailable("operator key \(id) was not stored")
            }
            return (OperatorKeyRecord(row: row), secret)
        }
    }

    public func operatorKey(secretDigest digest: Data) throws -> OperatorKeyRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM operator_keys WHERE lookup = ?", arguments: [Secrets.hex(digest)]).map(OperatorKeyRecord.init(row:))
        }
    }

    public func operatorKeys() throws -> [OperatorKeyRecord] {
        try read { db in try db.fetchAll(sql: "SELECT * FROM operator_keys ORDER BY created_at, id").map(OperatorKeyRecord.init(row:)) }
    }

    public func revokeOperatorKey(id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE operator_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [Date().timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }
}
