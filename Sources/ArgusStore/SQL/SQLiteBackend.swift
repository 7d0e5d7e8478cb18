import GRDB

/// SQLite through a GRDB pool: one writer at a time (across processes too, by SQLite's lock),
/// readers on a snapshot of the WAL.
struct SQLiteBackend: SQLBackend {
    let pool: DatabasePool
    var dialect: SQLDialect { .sqlite }

    func read<T>(_ body: (any SQLDatabase) throws -> T) throws -> T {
        try SQLiteStore.guarded { try pool.read { db in try body(SQLiteConnection(db: db)) } }
    }

    func write<T>(_ body: (any SQLDatabase) throws -> T) throws -> T {
        try SQLiteStore.guarded { try pool.write { db in try body(SQLiteConnection(db: db)) } }
    }
}
