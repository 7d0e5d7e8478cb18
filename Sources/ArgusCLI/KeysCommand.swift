import ArgumentParser
import ArgusStore
import Foundation

extension Argus {
    /// `argus keys …`: credentials straight on the store, for bootstrap and recovery.
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manage API keys on the store directly (bootstrap, recovery).",
                                                        subcommands: [KeysCreate.self, KeysList.self, KeysRoll.self, KeysRevoke.self])
    }
}

struct StoreOptions: ParsableArguments {
    @Option(help: "The data directory of `argus serve`.") var dataDir: String = "data"
    @Option(help: "A PostgreSQL store instead (postgres://USER@HOST:PORT/DB; default: ARGUS_STORE). Needs ARGUS_MASTER_KEY.") var store: String?
    @Option(help: "The tenant (default: the store's first tenant).") var tenant: String?

    /// Opens the store; with `create: false` (read-only and changing commands on existing keys) a
    /// missing store is an error and nothing is written. Works while `argus serve` runs on it: the
    /// server reads credentials from the store on every request.
    func open(create: Bool = false) throws -> (any Store, String) {
        let environment = ProcessInfo.processInfo.environment
        let store: any Store
        if let url = self.store ?? environment["ARGUS_STORE"] {
            store = try PostgresStore(url: url, environment: environment, connections: 2)
        } else {
            store = try SQLiteStore(dataDirectory: dataDir, environment: environment, create: create)
        }
        if let tenant {
            guard try store.tenant(id: tenant) != nil else { throw ValidationError("no tenant \(tenant)") }
            return (store, tenant)
        }
        return (store, store.defaultTenantID)
    }
}

struct KeysCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a key; the secret is printed once.")
    @OptionGroup var store: StoreOptions
    @Option(help: "test or live.") var mode: String = "test"
    @Option(help: "secret, restricted or client.") var kind: String = "secret"
    @Option(help: "Scopes for restricted keys and client credentials, comma-separated.") var scopes: String = ""
    @Option(help: "A label.") var name: String?
    @Flag var json = false

    func run() throws {
        guard let mode = Mode(rawValue: mode) else { throw ValidationError("--mode: test or live") }
        guard let kind = Credential.Kind(rawValue: kind) else { throw ValidationError("--kind: secret, restricted or client") }
        var set = Set<Scope>()
        for s in scopes.split(separator: ",") {
            guard let scope = Scope(rawValue: String(s)) else { throw ValidationError("unknown scope \(s)") }
            set.insert(scope)
        }
        if kind != .secret && set.isEmpty { throw ValidationError("--scopes is required for restricted keys and client credentials") }
        let (db, tenant) = try store.open(create: true)
        let issued = try db.createCredential(tenant: tenant, mode: mode, kind: kind, scopes: set, name: name, expiresAt: nil)
        try db.audit(AuditEntry(tenant: tenant, credential: "cli", operation: "keys.create", target: issued.credential.id, outcome: "created", requestID: nil))
        if json {
            var out = ["id": issued.credential.id, "key": issued.secret]
            if let ck = issued.clientKey { out["client_key"] = ck; out["client_secret"] = issued.secret }
            try JSONLine.print(out)
        } else {
            print("id: \(issued.credential.id)")
            if let ck = issued.clientKey { print("x-client-key: \(ck)\nx-client-secret: \(issued.secret)") } else { print("key: \(issued.secret)") }
            print("(shown once; only a hash is stored)")
        }
    }
}

struct KeysList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List keys (prefix and last 4 characters only).")
    @OptionGroup var store: StoreOptions
    @Flag var json = false

    func run() throws {
        let (db, tenant) = try store.open()
        for c in try db.credentials(tenant: tenant, mode: nil) {
            let status = c.revokedAt != nil ? "revoked" : (c.expiresAt.map { $0 < Date() ? "expired" : "expires \($0)" } ?? "active")
            if json {
                try JSONLine.print(["id": c.id, "kind": c.kind.rawValue, "mode": c.mode.rawValue, "prefix": c.displayPrefix, "last4": c.last4, "status": status])
            } else {
                print("\(c.id)  \(c.kind.rawValue)  \(c.mode.rawValue)  \(c.displayPrefix)…\(c.last4)  \(status)")
            }
        }
    }
}

struct KeysRoll: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roll", abstract: "Replace a key; the old one works for --expires-in seconds.")
    @OptionGroup var store: StoreOptions
    @Argument var id: String
    @Option(help: "Seconds the old key keeps working (0…2592000).") var expiresIn: Int = 0
    @Flag var json = false

    func run() throws {
        guard (0...2_592_000).contains(expiresIn) else { throw ValidationError("--expires-in: 0…2592000 seconds") }
        let (db, tenant) = try store.open()
        let fresh: IssuedCredential
        do {
            fresh = try db.roll(credentialID: id, overlap: TimeInterval(expiresIn), now: Date())
        } catch {
            printError("argus keys roll: \(error)")
            throw ExitCode.failure
        }
        try db.audit(AuditEntry(tenant: tenant, credential: "cli", operation: "keys.roll", target: id, outcome: "rolled_to:\(fresh.credential.id)", requestID: nil))
        if json { try JSONLine.print(["id": fresh.credential.id, "key": fresh.secret]) } else { print("id: \(fresh.credential.id)\nkey: \(fresh.secret)") }
    }
}

struct KeysRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a key now.")
    @OptionGroup var store: StoreOptions
    @Argument var id: String

    func run() throws {
        let (db, tenant) = try store.open()
        guard try db.revoke(credentialID: id) else {
            printError("no live key \(id)")
            throw ExitCode.failure
        }
        try db.audit(AuditEntry(tenant: tenant, credential: "cli", operation: "keys.revoke", target: id, outcome: "revoked", requestID: nil))
        print("revoked \(id)")
    }
}
