import Foundation
public import GRDB

/// The values of one statement's `?` placeholders, in order. Values are GRDB's `DatabaseValue`s
/// (null, integer, real, text, blob) whatever the backend: a Bool is stored as 0/1, a Date never
/// (the store writes seconds since 1970 as a real).
public struct SQLArguments: ExpressibleByArrayLiteral, Sendable {
    public private(set) var values: [DatabaseValue]

    public init(_ values: [(any DatabaseValueConvertible)?]) {
        self.values = values.map { $0?.databaseValue ?? .null }
    }

    public init(arrayLiteral elements: (any DatabaseValueConvertible)?...) { self.init(elements) }

    public static func += (lhs: inout SQLArguments, rhs: SQLArguments) { lhs.values += rhs.values }

    var statementArguments: StatementArguments { StatementArguments(values) }
}

/// Which SQL a backend speaks, where the store's statements differ.
public enum SQLDialect: Sendable {
    case sqlite, postgres
}

/// One connection inside a transaction, whatever the backend: the store's logic is written once
/// against this, in the SQL both backends speak (`?` placeholders, `ON CONFLICT`, `RETURNING`,
/// `COALESCE`; a parameter that may be NULL on its own is written `CAST(? AS TEXT)`). Rows come
/// back as GRDB `Row`s, so a record decodes the same way from either backend.
public protocol SQLDatabase {
    var dialect: SQLDialect { get }
    /// Runs one statement (or, without arguments, several separated by `;`).
    func execute(sql: String, arguments: SQLArguments) throws
    /// Runs one statement whose outcome the caller does not read: a backend may send it without
    /// waiting (PostgreSQL pipelines it), and its failure then surfaces at the next statement that
    /// is waited for, or at commit, failing the transaction all the same.
    func executeLater(sql: String, arguments: SQLArguments) throws
    /// Rows changed by the last `execute`.
    var changesCount: Int { get }
    func fetchAll(sql: String, arguments: SQLArguments) throws -> [Row]
    func fetchOne(sql: String, arguments: SQLArguments) throws -> Row?
    /// The first column of every row.
    func fetchFirstColumn(sql: String, arguments: SQLArguments) throws -> [DatabaseValue]
    /// The first column of the first row.
    func fetchFirstValue(sql: String, arguments: SQLArguments) throws -> DatabaseValue?
}

extension SQLDatabase {
    public func execute(sql: String) throws { try execute(sql: sql, arguments: []) }

    public func fetchOne(sql: String) throws -> Row? { try fetchOne(sql: sql, arguments: []) }

    public func fetchAll(sql: String) throws -> [Row] { try fetchAll(sql: sql, arguments: []) }

    /// The first column of the first row, or nil when there is no row or it is NULL.
    public func fetchOne<T: DatabaseValueConvertible>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> T? {
        guard let value = try fetchFirstValue(sql: sql, arguments: arguments) else { return nil }
        return T.fromDatabaseValue(value)
    }

    /// The first column of every row (NULLs left out).
    public func fetchAll<T: DatabaseValueConvertible>(_ type: T.Type, sql: String, arguments: SQLArguments = []) throws -> [T] {
        try fetchFirstColumn(sql: sql, arguments: arguments).compactMap(T.fromDatabaseValue)
    }

    /// Whether the query returns a row.
    public func exists(sql: String, arguments: SQLArguments = []) throws -> Bool {
        try fetchFirstValue(sql: sql, arguments: arguments) != nil
    }
}

/// SQLite through GRDB: a connection of the pool, inside its transaction. Single statements run
/// from GRDB's statement cache.
struct SQLiteConnection: SQLDatabase {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(sql: String, arguments: SQLArguments) throws {
        if arguments.values.isEmpty {
            try db.execute(sql: sql)
        } else {
            try db.cachedStatement(sql: sql).execute(arguments: arguments.statementArguments)
        }
    }

    func executeLater(sql: String, arguments: SQLArguments) throws { try execute(sql: sql, arguments: arguments) }

    var changesCount: Int { db.changesCount }

    func fetchAll(sql: String, arguments: SQLArguments) throws -> [Row] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments.statementArguments)
    }

    func fetchOne(sql: String, arguments: SQLArguments) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments.statementArguments)
    }

    func fetchFirstColumn(sql: String, arguments: SQLArguments) throws -> [DatabaseValue] {
        try DatabaseValue.fetchAll(db.cachedStatement(sql: sql), arguments: arguments.statementArguments)
    }

    func fetchFirstValue(sql: String, arguments: SQLArguments) throws -> DatabaseValue? {
        try DatabaseValue.fetchOne(db.cachedStatement(sql: sql), arguments: arguments.statementArguments)
    }
}
