import ArgumentParser
import ArgusService
import ArgusStore
import Foundation

extension Argus {
    /// `argus tenants …`: the platform operator's tenants, straight on the store (no server needed;
    /// a running server sees a suspension on its next request).
    struct Tenants: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create, list, suspend and resume tenants on the store directly.",
                                                        subcommands: [TenantsCreate.self, TenantsList.self, TenantsSuspend.self, TenantsResume.self])
    }

    /// `argus operator-keys create`: a key for the operator API (`/v1/operator/…`).
    struct OperatorKeys: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "operator-keys", abstract: "Operator keys (op_…) for the operator API.",
                                                        subcommands: [OperatorKeysCreate.self, OperatorKeysList.self, OperatorKeysRevoke.self])
    }
}

struct TenantsCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "A new tenant and its first test-mode secret key (shown once).")
    @OptionGroup var store: StoreOptions
    @Option(help: "The tenant's name.") var name: String
    @Flag var json = false

    struct Output: Encodable {
        let id: String
        let name: String
        let secret_key: String
    }

    func run() throws {
        guard (1...200).contains(name.utf8.count) else { throw ValidationError("--name: 1…200 bytes") }
        let (db, _) = try store.open(create: true)
        let (tenant, key) = try Tenancy.create(name: name, in: db)
        try db.audit(AuditEntry(tenant: tenant.id, credential: "cli", operation: "tenants.create", target: tenant.id, outcome: "created", requestID: nil))
        if json {
            try JSONLine.print(Output(id: tenant.id, name: tenant.name, secret_key: key.secret))
        } else {
            print("tenant: \(tenant.id) (\(tenant.name))\nsecret key: \(key.secret)\n(shown once; only a hash is stored)")
        }
    }
}

struct TenantsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every tenant with its status.")
    @OptionGroup var store: StoreOptions
    @Flag var json = false

    struct Output: Encodable {
        let id: String
        let name: String
        let status: String
        let created: String
    }

    func run() throws {
        let (db, _) = try store.open()
        for t in try db.tenants() {
            if json {
                try JSONLine.print(Output(id: t.id, name: t.name, status: t.status.rawValue, created: ISO8601DateFormatter().string(from: t.createdAt)))
            } else {
                print("\(t.id)  \(t.status.rawValue)  \(t.name)")
            }
        }
    }
}

/// Suspend or resume: the same command with another status.
protocol TenantStatusCommand: ParsableCommand {
    var store: StoreOptions { get }
    var id: String { get }
    static var status: TenantRecord.Status { get }
}

extension TenantStatusCommand {
    func run() throws {
        let (db, _) = try store.open()
        guard try db.setTenantStatus(id: id, status: Self.status) else {
            printError("no tenant \(id)")
            throw ExitCode.failure
        }
        try db.audit(AuditEntry(tenant: id, credential: "cli", operation: Self.status == .active ? "tenants.resume" : "tenants.suspend", target: id,
                                outcome: Self.status.rawValue, requestID: nil))
        print("\(id): \(Self.status.rawValue)")
    }
}

struct TenantsSuspend: TenantStatusCommand {
    static let configuration = CommandConfiguration(commandName: "suspend", abstract: "Refuse every credential and session of a tenant (403 tenant_suspended).")
    static let status = TenantRecord.Status.suspended
    @OptionGroup var store: StoreOptions
    @Argument var id: String
}

struct TenantsResume: TenantStatusCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let a suspended tenant's credentials and sessions work again.")
    static let status = TenantRecord.Status.active
    @OptionGroup var store: StoreOptions
    @Argument var id: String
}

struct OperatorKeysCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "An operator key (shown once).")
    @OptionGroup var store: StoreOptions
    @Option(help: "A label.") var name: String?
    @Flag var json = false

    struct Output: Encodable {
        let id: String
        let key: String
    }

    func run() throws {
        let (db, _) = try store.open(create: true)
        let (record, secret) = try db.createOperatorKey(name: name)
        try db.audit(AuditEntry(tenant: nil, credential: "cli", operation: "operator_keys.create", target: record.id, outcome: "created", requestID: nil))
        if json { try JSONLine.print(Output(id: record.id, key: secret)) } else { print("id: \(record.id)\nkey: \(secret)\n(shown once)") }
    }
}

struct OperatorKeysList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Operator keys (last 4 characters only).")
    @OptionGroup var store: StoreOptions

    func run() throws {
        let (db, _) = try store.open()
        for k in try db.operatorKeys() {
            print("\(k.id)  op_…\(k.last4)  \(k.revokedAt == nil ? "active" : "revoked")  \(k.name ?? "")")
        }
    }
}

struct OperatorKeysRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke an operator key now.")
    @OptionGroup var store: StoreOptions
    @Argument var id: String

    func run() throws {
        let (db, _) = try store.open()
        guard try db.revokeOperatorKey(id: id) else {
            printError("no live operator key \(id)")
            throw ExitCode.failure
        }
        try db.audit(AuditEntry(tenant: nil, credential: "cli", operation: "operator_keys.revoke", target: id, outcome: "revoked", requestID: nil))
        print("revoked \(id)")
    }
}
