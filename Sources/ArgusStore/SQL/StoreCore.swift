import Crypto
public import Foundation
import Synchronization

/// Where a relational store's transactions run: SQLite through GRDB, or PostgreSQL.
protocol SQLBackend: Sendable {
    var dialect: SQLDialect { get }
    /// A read-only transaction that sees one state of the store.
    func read<T>(_ body: (any SQLDatabase) throws -> T) throws -> T
    /// A write transaction, serialised with every other write (on PostgreSQL: serializable, and run
    /// again when the database reports a conflict, so `body` must be safe to run twice). Errors
    /// leave it as `StoreError`s.
    func write<T>(_ body: (any SQLDatabase) throws -> T) throws -> T
    /// A write that decides nothing from what it reads (bookkeeping such as a key's last use): it
    /// needs no isolation from other writes, so on PostgreSQL it runs READ COMMITTED and can never
    /// lose a serialization race against, or make one for, the decisions that do.
    func bookkeeping<T>(_ body: (any SQLDatabase) throws -> T) throws -> T
}

extension SQLBackend {
    func bookkeeping<T>(_ body: (any SQLDatabase) throws -> T) throws -> T { try write(body) }
}

/// What every relational store holds besides its backend: the key vault and what is cached from it.
/// Its members are the store module's; the class is public only so `SQLBackedStore` can name it.
public final class StoreCore: Sendable {
    let backend: any SQLBackend
    let vault: KeyVault
    /// When each credential's `last_used_at` was last written (see `touch`).
    let lastTouched = Mutex<[String: Double]>([:])
    /// Tenants' data keys, unwrapped once.
    let dataKeys = Mutex<[String: SymmetricKeyBox]>([:])

    init(backend: any SQLBackend, vault: KeyVault) {
        self.backend = backend
        self.vault = vault
    }
}

/// A store whose logic is the shared SQL of this module (SQLite and PostgreSQL): one
/// implementation of tenants, credentials, sessions, subjects, webhooks and the audit trail, so
/// both backends behave the same by construction. A backend supplies only its transactions and
/// what it does faster its own way (bulk face writes and the scan of every face).
public protocol SQLBackedStore: Store {
    var core: StoreCore { get }
}

extension SQLBackedStore {
    var vault: KeyVault { core.vault }
    var dialect: SQLDialect { core.backend.dialect }

    func read<T>(_ body: (any SQLDatabase) throws -> T) throws -> T { try core.backend.read(body) }
    func write<T>(_ body: (any SQLDatabase) throws -> T) throws -> T { try core.backend.write(body) }
    func bookkeeping<T>(_ body: (any SQLDatabase) throws -> T) throws -> T { try core.backend.bookkeeping(body) }
}
