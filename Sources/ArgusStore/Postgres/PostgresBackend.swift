public import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A PostgreSQL failure, named for the store's callers: a lost or refused connection is
/// `unavailable` (the service answers 503), a broken uniqueness rule a `conflict`.
struct PostgresFailure: Error {
    let storeError: StoreError
    /// SQLSTATE 40001 or 40P01: the transaction lost a race and may be run again.
    let retryable: Bool
    /// The connection is not to be used again: anything but an error the server reported for one
    /// statement (a lost connection, a timeout, a server shutting down: classes 08 and 57).
    let brokenConnection: Bool

    static func timedOut(_ seconds: TimeInterval) -> PostgresFailure {
        PostgresFailure(storeError: .unavailable("database: no answer in \(Int(seconds)) s"), retryable: false, brokenConnection: true)
    }

    /// `error`, on a connection that is not to be used again.
    static func broken(_ error: any Error) -> PostgresFailure {
        let failure = PostgresFailure(error)
        return PostgresFailure(storeError: (error as? StoreError) ?? failure.storeError, retryable: failure.retryable, brokenConnection: true)
    }

    private init(storeError: StoreError, retryable: Bool, brokenConnection: Bool) {
        (self.storeError, self.retryable, self.brokenConnection) = (storeError, retryable, brokenConnection)
    }

    init(_ error: any Error) {
        if let failure = error as? PostgresFailure {
            self = failure
            return
        }
        guard let psql = error as? PSQLError else {
            storeError = .unavailable("database: \(error)")
            retryable = false
            brokenConnection = true
            return
        }
        let state = psql.serverInfo?[.sqlState]
        let message = psql.serverInfo?[.message] ?? "\(psql.code)"
        retryable = state == "40001" || state == "40P01"
        brokenConnection = psql.code != .server || state.map { $0.hasPrefix("08") || $0.hasPrefix("57") } ?? true
        switch state {
        case "23505"?, "23503"?, "23514"?, "23502"?: storeError = .conflict("a uniqueness rule was broken: \(message)")
        case let s? where s.hasPrefix("53"): storeError = .full("database: \(message)")
        default: storeError = .unavailable("database: \(message)")
        }
    }
}

/// Where a PostgreSQL store connects: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, or with
/// `?host=/DIR` a Unix socket in DIR (as libpq does); `ARGUS_PGPASSWORD` or `PGPASSWORD` supplies a
/// password that is not in the address (keeping it out of process listings).
public struct PostgresAddress: Sendable, CustomStringConvertible {
    public let user: String
    let password: String?
    public let host: String
    public let port: Int
    public let database: String
    /// A Unix socket's path, when the address names a directory as its host.
    public let socketPath: String?

    public init(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let parts = URLComponents(string: url), parts.scheme == "postgres" || parts.scheme == "postgresql" else {
            throw StoreError.invalid("a PostgreSQL store is named postgres://USER@HOST:PORT/DB")
        }
        guard let user = parts.user, !user.isEmpty else { throw StoreError.invalid("the PostgreSQL address names no user") }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw StoreError.invalid("the PostgreSQL address names no database") }
        self.user = user.removingPercentEncoding ?? user
        password = parts.password?.removingPercentEncoding ?? environment["ARGUS_PGPASSWORD"] ?? environment["PGPASSWORD"]
        port = parts.port ?? 5432
        self.database = database
        let socketDirectory = parts.queryItems?.first(where: { $0.name == "host" })?.value
        if let socketDirectory, socketDirectory.hasPrefix("/") {
            socketPath = (socketDirectory as NSString).appendingPathComponent(".s.PGSQL.\(port)")
            host = socketDirectory
        } else {
            socketPath = nil
            host = parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        }
    }

    /// Without the password.
    public var description: String { "postgres://\(user)@\(socketPath == nil ? host : "") :\(port)/\(database)".replacingOccurrences(of: " ", with: "") }

    var configuration: PostgresConnection.Configuration {
        var c: PostgresConnection.Configuration
        if let socketPath {
            c = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            c = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        c.options.connectTimeout = .seconds(5)
        return c
    }
}

/// Connections to one PostgreSQL database, used from ordinary threads: a caller blocks on its
/// query (never on an event loop: the store's callers run off them). At most `limit` are open;
/// a broken one is dropped and a new one opened by the next caller.
final class PostgresConnections: Sendable {
    let address: PostgresAddress
    let limit: Int
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    private let nextID = Atomic<Int>(0)
    let logger: Logger

    init(address: PostgresAddress, limit: Int = 16) {
        self.address = address
        self.limit = limit
        slots = DispatchSemaphore(value: limit)
        var logger = Logger(label: "argus.store.postgres")
        logger.logLevel = .warning
        self.logger = logger
    }

    func connect() throws -> PostgresConnection {
        do {
            let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
            return try Self.wait(PostgresConnection.connect(on: Self.loops.any(), configuration: address.configuration,
                                                            id: id, logger: logger), timeout: 10)
        } catch {
            throw PostgresFailure(error).storeError
        }
    }

    func with<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + Self.statementTimeout) == .success else {
            throw StoreError.unavailable("database: all \(limit) connections busy for \(Int(Self.statementTimeout)) s")
        }
        defer { slots.signal() }
        // A connection the server ended while it sat idle (a restart) is left behind: a query sent on
        // it might never be answered.
        let connection = try idle.withLock { list -> PostgresConnection? in
            while let c = list.popLast() {
                if !c.isClosed { return c }
            }
            return nil
        } ?? connect()
        do {
            let result = try body(connection)
            give(back: connection)
            return result
        } catch let failure as PostgresFailure where failure.brokenConnection {
            // Never handed out again: closed (held until the close completes); the next caller opens a new one.
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
            throw failure
        } catch {
            give(back: connection)
            throw error
        }
    }

    /// PostgreSQL's sockets have an event loop of their own, never one of the HTTP server's: a
    /// caller blocked on a query (even one on a server event loop, as a WebSocket upgrade's
    /// authentication is) never waits on the loop that must deliver the answer.
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// How long a statement may go unanswered before its connection is given up (a connection the
    /// server dropped without a word must not hold its caller for ever).
    static let statementTimeout: TimeInterval = 30

    /// Waits for `future` from an ordinary thread, at most `timeout` seconds.
    static func wait<T>(_ future: EventLoopFuture<T>, timeout: TimeInterval = statementTimeout) throws -> T {
        let outcome = FutureOutcome<T>()
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.result = result
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success, let result = outcome.result else { throw PostgresFailure.timedOut(timeout) }
        do {
            return try result.get()
        } catch {
            throw PostgresFailure(error)
        }
    }

    private func give(back connection: PostgresConnection) {
        if connection.isClosed { return }
        idle.withLock { $0.append(connection) }
    }

    /// Closes the idle connections, without waiting (this may run on an event loop, where the
    /// store's last reference went); each is held until its close completes.
    func close() {
        for connection in idle.withLock({ list in defer { list = [] }; return list }) {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }
}

/// A future's result, written once before a semaphore is signalled and read after it.
private final class FutureOutcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// One connection inside a transaction. Statements are written with `?` placeholders (the
/// store's common SQL) and sent with `$n` ones; every value is bound, never spliced into the text.
final class PostgresSession: SQLDatabase {
    let connection: PostgresConnection
    let logger: Logger
    private(set) var changesCount = 0
    var dialect: SQLDialect { .postgres }

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Statements sent and not yet waited for (`executeLater`), oldest first.
    private var pending: [EventLoopFuture<PostgresQueryResult>] = []

    /// Single-row INSERTs put off by `executeLater`, by statement, in the order each first came:
    /// sent as one multi-row INSERT each (one parse and plan for hundreds of rows). Rows of one
    /// table keep their order; tables keep the order they were first written in (a subject before
    /// its faces), and nothing reads between (every statement that is waited for sends them first).
    private var inserts: [(sql: String, head: Substring, tuple: Substring, rows: [DatabaseValue])] = []
    private var insertValues = 0

    func executeLater(sql: String, arguments: SQLArguments) throws {
        if let (head, tuple) = Self.singleRowInsert(sql) {
            if let i = inserts.firstIndex(where: { $0.sql == sql }) {
                inserts[i].rows += arguments.values
            } else {
                // Rows of other tables may reference a parent's new row (a face its new subject):
                // a parent table joining the buffer goes after everything already in it.
                if Self.parentTables.contains(where: { head.hasPrefix("INSERT INTO \($0)(") }) { try sendInserts() }
                inserts.append((sql, head, tuple, arguments.values))
            }
            insertValues += arguments.values.count
            // PostgreSQL takes at most 65,535 parameters in a statement.
            if insertValues >= 30_000 { try sendInserts() }
            return
        }
        try sendInserts()
        pending.append(try send(sql, arguments))
        if pending.count >= 512 { try waitPending() }
    }

    /// Tables whose rows others written in the same batch reference.
    static let parentTables = ["subjects", "events"]

    /// `INSERT INTO t(columns) VALUES (…)` with placeholders, and nothing more: its head and its row.
    static func singleRowInsert(_ sql: String) -> (Substring, Substring)? {
        let text = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("INSERT INTO "), text.hasSuffix(")"), !text.contains("ON CONFLICT"), !text.contains("RETURNING"),
              !text.contains("SELECT"), let values = text.range(of: "VALUES ("),
              values.lowerBound > text.startIndex, text[text.index(before: values.lowerBound)].isWhitespace else { return nil }
        let tuple = text[text.index(before: values.upperBound)...]
        guard tuple.hasPrefix("("), tuple.filter({ $0 == "(" }).count == 1, tuple.contains("?") else { return nil }
        return (text[..<text.index(before: values.upperBound)], tuple)
    }

    private func sendInserts() throws {
        let waiting = inserts
        inserts = []
        insertValues = 0
        for batch in waiting {
            let count = batch.rows.count / batch.tuple.filter { $0 == "?" }.count
            let sql = batch.head + Array(repeating: String(batch.tuple), count: count).joined(separator: ",")
            pending.append(try send(String(sql), SQLArguments(batch.rows.map { $0 as (any DatabaseValueConvertible)? })))
        }
    }

    /// Sends a statement whose outcome nobody reads (a read-only transaction's COMMIT), after
    /// waiting for what was sent before it.
    func sendWithoutWaiting(sql: String) throws {
        try sendInserts()
        try waitPending()
        _ = try send(sql, [])
    }

    /// Forgets the inserts not yet sent (the transaction is being rolled back).
    func discardBuffered() {
        inserts = []
        insertValues = 0
    }

    /// Waits for what was sent before: the first failure is the one thrown.
    private func waitPending() throws {
        let sent = pending
        pending = []
        let deadline = Date().addingTimeInterval(PostgresConnections.statementTimeout)
        var first: (any Error)?
        for future in sent {
            do {
                _ = try PostgresConnections.wait(future, timeout: max(0.001, deadline.timeIntervalSinceNow))
            } catch {
                first = first ?? error
                // The connection is gone: what follows it will not be answered either.
                if let failure = error as? PostgresFailure, failure.brokenConnection { break }
            }
        }
        if let first { throw first }
    }

    func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        try sendInserts()
        // Sent first, so it travels behind the pipelined ones; their failures come first.
        let future = try send(sql, arguments)
        if !pending.isEmpty {
            do {
                try waitPending()
            } catch {
                _ = try? PostgresConnections.wait(future)
                throw error
            }
        }
        return try PostgresConnections.wait(future)
    }

    private func send(_ sql: String, _ arguments: SQLArguments) throws -> EventLoopFuture<PostgresQueryResult> {
        var binds = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value.storage {
            case .null: binds.appendNull()
            case .int64(let v): binds.append(v)
            case .double(let v): binds.append(v)
            case .string(let v): binds.append(v)
            case .blob(let v): binds.append(ByteBuffer(bytes: v))
            }
        }
        return connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: binds), logger: logger)
    }

    func execute(sql: String, arguments: SQLArguments) throws {
        let result = try run(sql, arguments)
        changesCount = result.metadata.rows ?? 0
    }

    func fetchAll(sql: String, arguments: SQLArguments) throws -> [Row] {
        try run(sql, arguments).rows.map(Self.row)
    }

    func fetchOne(sql: String, arguments: SQLArguments) throws -> Row? {
        try run(sql, arguments).rows.first.map(Self.row)
    }

    func fetchFirstColumn(sql: String, arguments: SQLArguments) throws -> [DatabaseValue] {
        try run(sql, arguments).rows.map { row in row.first(where: { _ in true }).map(Self.value) ?? .null }
    }

    func fetchFirstValue(sql: String, arguments: SQLArguments) throws -> DatabaseValue? {
        try run(sql, arguments).rows.first.map { row in row.first(where: { _ in true }).map(Self.value) ?? .null }
    }

    /// `?` → `$1`, `$2`…, outside quoted text.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quote: Character?
        for c in sql {
            if let q = quote {
                if c == q { quote = nil }
                out.append(c)
            } else if c == "'" || c == "\"" {
                quote = c
                out.append(c)
            } else if c == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func row(_ row: PostgresRow) -> Row {
        var columns: [String: DatabaseValue] = [:]
        for cell in row where columns[cell.columnName] == nil {
            columns[cell.columnName] = value(cell)
        }
        return Row(columns)
    }

    /// A cell as the value SQLite would have given: integers (and booleans, as 0/1), reals, text, blobs.
    static func value(_ cell: PostgresCell) -> DatabaseValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map { $0.databaseValue } ?? .null
        case .bool:
            return (try? cell.decode(Bool.self)).map { ($0 ? 1 : 0 as Int64).databaseValue } ?? .null
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map { $0.databaseValue } ?? .null
        case .numeric:
            return (try? cell.decode(String.self)).flatMap(Double.init).map { $0.databaseValue } ?? .null
        case .bytea:
            guard var bytes = cell.bytes else { return .null }
            return (bytes.readData(length: bytes.readableBytes) ?? Data()).databaseValue
        default:
            return (try? cell.decode(String.self)).map { $0.databaseValue } ?? .null
        }
    }
}

/// PostgreSQL as a store's backend. Writes run SERIALIZABLE: whatever the store decides from
/// what it read (a session's attempts, a key's state, a tenant's status) holds as if the writes
/// of every node ran one after another; a transaction that loses a race is run again, up to 20 times.
final class PostgresBackend: SQLBackend {
    let connections: PostgresConnections
    var dialect: SQLDialect { .postgres }

    init(connections: PostgresConnections) { self.connections = connections }

    func read<T>(_ body: (any SQLDatabase) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", readOnly: true, body)
    }

    func write<T>(_ body: (any SQLDatabase) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", readOnly: false, body)
    }

    func bookkeeping<T>(_ body: (any SQLDatabase) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL READ COMMITTED", readOnly: false, body)
    }

    /// BEGIN travels with the first statement (one round trip, not two); a read-only transaction's
    /// COMMIT is not waited for (the connection's next user queues behind it).
    func transaction<T>(_ begin: String, readOnly: Bool, _ body: (any SQLDatabase) throws -> T) throws -> T {
        try StoreFailures.guarded {
            var tries = 0
            while true {
                tries += 1
                do {
                    return try connections.with { connection in
                        let session = PostgresSession(connection: connection, logger: connections.logger)
                        try session.executeLater(sql: begin, arguments: [])
                        do {
                            let result = try body(session)
                            if readOnly {
                                try session.sendWithoutWaiting(sql: "COMMIT")
                            } else {
                                try session.execute(sql: "COMMIT")
                            }
                            return result
                        } catch let failure as PostgresFailure where failure.brokenConnection {
                            throw failure
                        } catch {
                            session.discardBuffered()
                            // A connection that cannot roll back is not handed to anyone else.
                            guard !connection.isClosed, (try? session.execute(sql: "ROLLBACK")) != nil else { throw PostgresFailure.broken(error) }
                            throw error
                        }
                    }
                } catch let failure as PostgresFailure where failure.retryable && tries < 20 {
                    // A serialization failure: back off a little, at random, and run it again.
                    usleep(UInt32.random(in: 200...2_000) * UInt32(min(tries, 10)))
                }
            }
        }
    }
}
