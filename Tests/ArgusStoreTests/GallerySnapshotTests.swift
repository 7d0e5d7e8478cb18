@testable import ArgusStore
import Foundation
import GRDB
import Testing

/// The gallery snapshot and the face log: a load from the snapshot and the log's tail gives
/// exactly what a scan of the rows gives, whatever happened since it was written; a snapshot that
/// does not open or does not agree with the store is not used (or abandoned part-way) without a
/// face lost or given twice.
@Suite("Store: gallery snapshot and face log")
struct GallerySnapshotTests {
    struct Face: Hashable {
        let face: String
        let subject: String
        let tenant: String
        let mode: Mode
        let gallery: String
        let template: [Float]
    }

    /// Every face a load gives (with the batch size checked), in order.
    static func load(_ store: SQLiteStore, tenant: String? = nil, mode: Mode? = nil, batch: Int = 5, snapshot: Bool) throws -> [Face] {
        var out: [Face] = []
        try store.forEachFaceBatch(tenant: tenant, mode: mode, batch: batch, digests: false, snapshot: snapshot) { b in
            #expect(b.count > 0 && b.count <= batch)
            #expect(b.runs.reduce(0) { $0 + $1.faces.count } == b.count)
            for run in b.runs {
                for i in run.faces {
                    out.append(Face(face: b.faceIDs[i], subject: b.subjectIDs[i], tenant: run.tenant, mode: run.mode, gallery: run.gallery,
                                    template: Array(b.template(i))))
                }
            }
        }
        return out
    }

    /// A store with two tenants, both modes, two galleries and client-custody faces.
    static func populated() throws -> (dir: String, store: SQLiteStore, other: String) {
        let dir = try StoreTests.temporary()
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        let other = try store.createTenant(name: "other").id
        var seed = 0
        func faces(_ prefix: String, _ n: Int, gallery: String = "default") -> [NewFace] {
            (0..<n).map { i in
                seed += 1
                return FaceScanTests.face("\(prefix)-\(i)", gallery: gallery, seed: seed)
            }
        }
        _ = try store.writeFaces(faces("a", 12), tenant: store.defaultTenantID, mode: .test, spending: nil)
        _ = try store.writeFaces(faces("v", 7, gallery: "vip"), tenant: store.defaultTenantID, mode: .test, spending: nil)
        _ = try store.writeFaces(faces("l", 6), tenant: store.defaultTenantID, mode: .live, spending: nil)
        _ = try store.writeFaces(faces("o", 9), tenant: other, mode: .test, spending: nil)
        _ = try store.createSubject(tenant: other, mode: .test, externalID: "held", custody: .client)
        return (dir, store, other)
    }

    @Test("a load from the snapshot and the log's tail equals a scan of the rows, after additions, removals and cascades")
    func roundTrip() throws {
        let (dir, store, other) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = try Self.load(store, snapshot: false)
        #expect(before.count == 34)
        let written = try store.writeGallerySnapshot()
        #expect(written.faces == 34 && written.seq > 0)
        let mode = try FileManager.default.attributesOfItem(atPath: GallerySnapshot.path(in: dir))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The log keeps only the snapshot's own entry.
        let logged = try store.sqliteRead { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_log") }
        #expect(logged == 1)

        // Unchanged: everything from the snapshot.
        #expect(Set(try Self.load(store, snapshot: true)) == Set(before))
        #expect(store.lastFaceScan == FaceScanReport(source: .snapshot, snapshotFaces: 34, storeFaces: 0, note: nil))

        // Changes after it: a face removed, a subject (and its faces) removed by cascade, faces added.
        let victim = before.first { $0.gallery == "vip" }!
        #expect(try store.deleteFace(tenant: victim.tenant, mode: victim.mode, subject: victim.subject, face: victim.face))
        let gone = before.first { $0.tenant == other }!
        #expect(try store.deleteSubject(tenant: other, mode: .test, id: gone.subject)?.count == 1)
        let added = try store.writeFaces([FaceScanTests.face("new-1", seed: 501), FaceScanTests.face("new-2", gallery: "vip", seed: 502)],
                                         tenant: store.defaultTenantID, mode: .test, spending: nil)
        // Added then removed after the snapshot: in neither.
        let brief = try store.writeFaces([FaceScanTests.face("brief", seed: 503)], tenant: other, mode: .test, spending: nil)[0]
        #expect(try store.deleteFace(tenant: other, mode: .test, subject: brief.subjectID, face: brief.faceID))

        let rows = try Self.load(store, snapshot: false)
        #expect(rows.count == 34 - 2 + 2)
        let loaded = try Self.load(store, snapshot: true)
        #expect(loaded.count == rows.count)
        #expect(Set(loaded) == Set(rows))
        #expect(store.lastFaceScan == FaceScanReport(source: .snapshot, snapshotFaces: 32, storeFaces: 2, note: nil))
        #expect(Set(loaded.map(\.face)).isSuperset(of: added.map(\.faceID)))

        // Filtered loads agree too.
        for (tenant, mode) in [(store.defaultTenantID, Mode.test), (store.defaultTenantID, .live), (other, .test)] {
            #expect(Set(try Self.load(store, tenant: tenant, mode: mode, snapshot: true))
                    == Set(try Self.load(store, tenant: tenant, mode: mode, snapshot: false)))
        }

        // The public entry (a start-up's) uses it: digests are not in the snapshot, so a scan that asks for them reads rows.
        var n = 0
        try store.forEachFaceBatch(tenant: nil, mode: nil, batch: 64, digests: false) { n += $0.count }
        #expect(n == rows.count && store.lastFaceScan.source == .snapshot)
    }

    @Test("a consumer that stops early during a snapshot load stops the reader", .timeLimit(.minutes(2)))
    func earlyStop() throws {
        struct Stop: Error {}
        let (dir, store, _) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try store.writeGallerySnapshot()
        var calls = 0
        #expect(throws: Stop.self) {
            try store.forEachFaceBatch(tenant: nil, mode: nil, batch: 1, digests: false) { _ in
                calls += 1
                if calls == 2 { throw Stop() }
            }
        }
        #expect(calls == 2)
        #expect(try Self.load(store, snapshot: true).count == 34)
    }

    @Test("a chunk that does not open ends the snapshot's part: the rest comes from the rows, nothing twice")
    func tamperedChunk() throws {
        let (dir, store, _) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try store.writeGallerySnapshot()
        let path = GallerySnapshot.path(in: dir)
        let footer = try #require(try GallerySnapshot.Reader(directory: dir)).footer
        #expect(footer.chunks.count >= 3)
        // Flip a byte inside the third chunk's sealed templates.
        let c = footer.chunks[2]
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(c.sealedOffset + 20))
        let byte = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: UInt64(c.sealedOffset + 20))
        try handle.write(contentsOf: Data([byte ^ 0x40]))
        try handle.close()

        let rows = try Self.load(store, snapshot: false)
        let loaded = try Self.load(store, snapshot: true)
        #expect(loaded.count == rows.count)
        #expect(Set(loaded) == Set(rows))
        let report = store.lastFaceScan
        #expect(report.source == .snapshot)
        #expect(report.snapshotFaces == footer.chunks[0].faces + footer.chunks[1].faces)
        #expect(report.note?.contains("chunk 2 did not open") == true)
    }

    @Test("moved ids, another store's snapshot, a rewound log or a foreign file: the snapshot is not used")
    func refused() throws {
        let (dir, store, _) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try store.writeGallerySnapshot()
        let rows = try Self.load(store, snapshot: false)

        // The log no longer has the snapshot's position (a store restored from an older copy).
        try store.sqliteWrite { db in try db.execute(sql: "DELETE FROM face_log") }
        #expect(Set(try Self.load(store, snapshot: true)) == Set(rows))
        #expect(store.lastFaceScan.source == .database)
        #expect(store.lastFaceScan.note?.contains("face log") == true)

        // Another store with as many faces: its log and keys are not these.
        let (dir2, store2, _) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        try FileManager.default.copyItem(atPath: GallerySnapshot.path(in: dir), toPath: GallerySnapshot.path(in: dir2))
        let rows2 = try Self.load(store2, snapshot: false)
        #expect(Set(try Self.load(store2, snapshot: true)) == Set(rows2))
        #expect(store2.lastFaceScan.source == .database && store2.lastFaceScan.note != nil)

        // Hostile footers: offsets and lengths at the ends of Int64, counts that overflow, a length
        // field past 2^63: refused, not a trap.
        func framed(_ footer: String, length: UInt64? = nil) -> Data {
            var d = Data("ARGSNAP1".utf8)
            d.append(Data(footer.utf8))
            var n = (length ?? UInt64(footer.utf8.count)).littleEndian
            d.append(Data(bytes: &n, count: 8))
            d.append(Data("ARGSNAP1".utf8))
            return d
        }
        let store2ID = store2.defaultTenantID
        for chunk in ["{\"tenant\":\"\(store2ID)\",\"mode\":\"test\",\"gallery\":\"default\",\"faces\":1,\"idsOffset\":9223372036854775807,\"idsLength\":9223372036854775807,\"sealedOffset\":8,\"sealedLength\":540}",
                      "{\"tenant\":\"\(store2ID)\",\"mode\":\"test\",\"gallery\":\"default\",\"faces\":9223372036854775807,\"idsOffset\":8,\"idsLength\":0,\"sealedOffset\":8,\"sealedLength\":28}"] {
            let footer = "{\"version\":1,\"store\":\"\(store2ID)\",\"seq\":0,\"dimension\":9223372036854775807,\"chunks\":[\(chunk)]}"
            try framed(footer).write(to: URL(fileURLWithPath: GallerySnapshot.path(in: dir2)))
            #expect(Set(try Self.load(store2, snapshot: true)) == Set(rows2))
            #expect(store2.lastFaceScan.source == .database && store2.lastFaceScan.note != nil)
        }
        try framed("{}", length: UInt64.max).write(to: URL(fileURLWithPath: GallerySnapshot.path(in: dir2)))
        #expect(Set(try Self.load(store2, snapshot: true)) == Set(rows2))
        #expect(store2.lastFaceScan.note?.contains("footer length") == true)

        // Not a snapshot at all.
        try Data("not a snapshot".utf8).write(to: URL(fileURLWithPath: GallerySnapshot.path(in: dir2)))
        #expect(Set(try Self.load(store2, snapshot: true)) == Set(rows2))
        #expect(store2.lastFaceScan.source == .database && store2.lastFaceScan.note != nil)
    }

    @Test("a face written outside the log's knowledge makes the counts disagree: the rows serve")
    func countsDisagree() throws {
        let (dir, store, _) = try Self.populated()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try store.writeGallerySnapshot()
        // A face removed with the triggers out of the way: the snapshot would still hold it.
        try store.sqliteWrite { db in
            try db.execute(sql: "DROP TRIGGER faces_logged_delete")
            try db.execute(sql: "DELETE FROM faces WHERE rowid = (SELECT MIN(rowid) FROM faces)")
        }
        let rows = try Self.load(store, snapshot: false)
        #expect(rows.count == 33)
        #expect(Set(try Self.load(store, snapshot: true)) == Set(rows))
        #expect(store.lastFaceScan.source == .database)
        #expect(store.lastFaceScan.note?.contains("does not agree") == true)
    }

    @Test("an empty store writes an empty snapshot that serves an empty load; later faces come from the tail")
    func empty() throws {
        let dir = try StoreTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        let written = try store.writeGallerySnapshot()
        #expect(written.faces == 0 && written.seq == 0)
        #expect(try Self.load(store, snapshot: true).isEmpty)
        #expect(store.lastFaceScan.source == .snapshot)
        let late = FaceScanTests.face("late", seed: 7)
        _ = try store.writeFaces([late], tenant: store.defaultTenantID, mode: .test, spending: nil)
        let loaded = try Self.load(store, snapshot: true)
        #expect(loaded.count == 1 && loaded.first?.template == late.template)
        #expect(store.lastFaceScan == FaceScanReport(source: .snapshot, snapshotFaces: 0, storeFaces: 1, note: nil))
    }
}
