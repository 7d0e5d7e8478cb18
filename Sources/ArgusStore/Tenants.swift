import Crypto
public import Foundation
import GRDB

extension SQLBackedStore {
    /// The default tenant's id, created on a store's first use (the caller holds the init lock).
    static func defaultTenant(_ backend: any SQLBackend, vault: KeyVault) throws -> String {
        try backend.write { db in
            if let id = try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE key = 'default_tenant'"),
               try db.fetchOne(Bool.self, sql: "SELECT 1 FROM tenants WHERE id = ?", arguments: [id]) != nil {
                return id
            }
            let id = Secrets.identifier("ten")
            try db.execute(sql: "INSERT INTO tenants(id, name, created_at, wrapped_data_key) VALUES (?,?,?,?)",
                           arguments: [id, "default", Date().timeIntervalSince1970, try vault.newWrappedDataKey(tenant: id)])
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('default_tenant', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [id])
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('aad_bound', '1') ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            return id
        }
    }

    /// Migrates stores written before wrapped keys' AADs named their owner: each tenant data key
    /// and signing key is re-wrapped with an AAD naming its tenant id or kid, once, in one transaction.
    static func bindKeysToOwners(_ backend: any SQLBackend, vault: KeyVault) throws {
        try backend.write { db in
            if try db.fetchOne(String.self, sql: "SELECT value FROM meta WHERE key = 'aad_bound'") != nil { return }
            for row in try db.fetchAll(sql: "SELECT id, wrapped_data_key FROM tenants") {
                let id: String = row["id"]
                let raw = try vault.unwrap(row["wrapped_data_key"], context: KeyVault.legacyDataKeyContext)
                try db.execute(sql: "UPDATE tenants SET wrapped_data_key = ? WHERE id = ?",
                               arguments: [try vault.wrap(raw, context: KeyVault.dataKeyContext(tenant: id)), id])
            }
            for row in try db.fetchAll(sql: "SELECT kid, sealed_private_key FROM signing_keys") {
                let kid: String = row["kid"]
                let raw = try vault.unwrap(row["sealed_private_key"], context: KeyVault.legacySigningKeyContext)
                try db.execute(sql: "UPDATE signing_keys SET sealed_private_key = ? WHERE kid = ?",
                               arguments: [try vault.wrap(raw, context: KeyVault.signingKeyContext(kid: kid)), kid])
            }
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('aad_bound', '1') ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        }
    }

    /// Refuses a master key that does not open the store's keys, before anything is written: a
    /// process started with the wrong `ARGUS_MASTER_KEY` would otherwise seal new keys (a signing
    /// key, a tenant's data key) that the right one never opens.
    static func checkMasterKey(_ backend: any SQLBackend, vault: KeyVault, tenant: String) throws {
        try backend.read { db in
            guard let wrapped = try db.fetchOne(Data.self, sql: "SELECT wrapped_data_key FROM tenants WHERE id = ?", arguments: [tenant]) else { return }
            do {
                _ = try vault.unwrapDataKey(wrapped, tenant: tenant)
            } catch {
                throw StoreError.sealed("the master key does not open this store's keys (ARGUS_MASTER_KEY, or the data directory's master.key): "
                                        + "start with the key the store was created with")
            }
        }
    }

    /// A tenant's data key, unwrapped once and cached.
    func dataKey(tenant: String) throws -> SymmetricKey {
        if let cached = core.dataKeys.withLock({ $0[tenant] }) { return cached.key }
        return try read { db in try dataKey(tenant: tenant, in: db) }
    }

    /// The same, inside a transaction that is already open.
    func dataKey(tenant: String, in db: any SQLDatabase) throws -> SymmetricKey {
        if let cached = core.dataKeys.withLock({ $0[tenant] }) { return cached.key }
        guard let wrapped = try db.fetchOne(Data.self, sql: "SELECT wrapped_data_key FROM tenants WHERE id = ?", arguments: [tenant]) else {
            throw StoreError.notFound("tenant")
        }
        let key = try vault.unwrapDataKey(wrapped, tenant: tenant)
        core.dataKeys.withLock { $0[tenant] = SymmetricKeyBox(key) }
        return key
    }

    /// How many tenants the store holds.
    public func tenantCount() throws -> Int {
        try read { db in try db.fetchOne(Int.self, sql: "SELECT count(*) FROM tenants") ?? 0 }
    }
}
