import Crypto
public import Foundation
public import GRDB

/// A tenant: the owner of credentials and data, with its own wrapped data key.
struct Tenant: Sendable {
    let id: String
    let name: String
}

extension ArgusStore {
    /// The tenant a fresh store starts with (created on first use).
    func defaultTenant(vault: KeyVault) throws -> Tenant {
        if let id = try meta("default_tenant"),
           let name = try pool.read({ db in try String.fetchOne(db, sql: "SELECT name FROM tenants WHERE id = ?", arguments: [id]) }) {
            return Tenant(id: id, name: name)
        }
        let tenant = Tenant(id: Secrets.identifier("ten"), name: "default")
        let wrapped = try vault.newWrappedDataKey()
        try pool.write { db in
            try db.execute(sql: "INSERT INTO tenants(id, name, created_at, wrapped_data_key) VALUES (?,?,?,?)",
                           arguments: [tenant.id, tenant.name, Date().timeIntervalSince1970, wrapped])
            try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('default_tenant', ?)", arguments: [tenant.id])
        }
        return tenant
    }

    func dataKey(tenant: String, vault: KeyVault) throws -> SymmetricKey {
        guard let wrapped = try pool.read({ db in
            try Data.fetchOne(db, sql: "SELECT wrapped_data_key FROM tenants WHERE id = ?", arguments: [tenant])
        }) else { throw APIError.notFound("tenant") }
        return try vault.unwrapDataKey(wrapped)
    }
}

extension ArgusStore {
    /// The default tenant's id, creating the tenant (and the master key) when the store is new.
    /// Used by `argus keys` on a stopped server.
    public func defaultTenantID(environment: [String: String]) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return try defaultTenant(vault: try KeyVault.open(dataDirectory: directory, environment: environment)).id
    }
}
