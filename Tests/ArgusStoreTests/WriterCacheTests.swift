@testable import ArgusStore
import Foundation
import GRDB
import Testing

/// The writing connection's page cache: SQLite's default for a service (a bigger one only fills
/// with the pages of new rows, and a server's resident size grows with it for hours), 64 MB for a
/// bulk load; readers keep the default either way.
@Suite("Store: the writer's page cache")
struct WriterCacheTests {
    static func cacheSizes(_ store: SQLiteStore) throws -> (writer: Int?, reader: Int?) {
        (try store.pool.write { try Int.fetchOne($0, sql: "PRAGMA cache_size") },
         try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA cache_size") })
    }

    @Test("A store opened for a service keeps 2 MB of pages in its writer; one opened for a bulk load, 64 MB")
    func sizes() throws {
        let dir = try StoreTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let service = try Self.cacheSizes(try SQLiteStore(dataDirectory: dir, environment: [:]))
            #expect(service.writer == -2000)
            #expect(service.reader == -2000)
        }
        let bulk = try Self.cacheSizes(try SQLiteStore(dataDirectory: dir, environment: [:], writerCache: .bulkLoad))
        #expect(bulk.writer == -65536)
        #expect(bulk.reader == -2000)
    }
}
