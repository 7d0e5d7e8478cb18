import Crypto
public import Foundation
import Glibc
import GRDB
import Synchronization

/// How the last load of faces (`forEachFaceBatch` without digests) was served.
public struct FaceScanReport: Sendable, Equatable {
    public enum Source: String, Sendable {
        case database
        case snapshot
    }

    public var source: Source = .database
    /// Faces given from the snapshot, and faces read from the store itself (all of them when the
    /// source is the database; the log's tail otherwise).
    public var snapshotFaces = 0
    public var storeFaces = 0
    /// Why the snapshot was not used, or stopped being used part-way; nil when there was none or it served.
    public var note: String?

    public init(source: Source = .database, snapshotFaces: Int = 0, storeFaces: Int = 0, note: String? = nil) {
        (self.source, self.snapshotFaces, self.storeFaces, self.note) = (source, snapshotFaces, storeFaces, note)
    }
}

/// A snapshot written: how many faces, at which face-log position, in how many bytes.
public struct GallerySnapshotWritten: Sendable {
    public let faces: Int
    public let seq: Int64
    public let bytes: Int64
}

extension SQLiteStore {
    /// How the last load of faces (a scan without digests) was served.
    public var lastFaceScan: FaceScanReport { lastScan.withLock { $0 } }

    private final class Position: Sendable {
        let value = Mutex<(seq: Int64, faceID: String?)>((0, nil))
    }

    /// Writes `gallery.snapshot` from the store (one read transaction: the faces and the face-log
    /// position agree), then drops the log entries before that position. A failure leaves the
    /// previous snapshot and the log as they were.
    public func writeGallerySnapshot() throws -> GallerySnapshotWritten {
        try Self.guarded {
            Self.removeStaleTemporaries(in: directory)
            let position = Position()
            var writer: GallerySnapshot.Writer?
            try forEachFaceBatch(tenant: nil, mode: nil, batch: 8192, digests: false, snapshot: false, inTransaction: { db in
                let seq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM face_log") ?? 0
                let id = seq > 0 ? try String.fetchOne(db, sql: "SELECT face_id FROM face_log WHERE seq = ?", arguments: [seq]) : nil
                position.value.withLock { $0 = (seq, id) }
            }) { batch in
                let w = try writer ?? {
                    let p = position.value.withLock { $0 }
                    return try GallerySnapshot.Writer(directory: directory, store: defaultTenantID, seq: p.seq, logFaceID: p.faceID)
                }()
                writer = w
                try batch.templates.withUnsafeBufferPointer { all in
                    for run in batch.runs {
                        let rows = UnsafeBufferPointer(rebasing: all[(run.faces.lowerBound * batch.dimension)..<(run.faces.upperBound * batch.dimension)])
                        try w.add(tenant: run.tenant, mode: run.mode.rawValue, gallery: run.gallery, faceIDs: batch.faceIDs[run.faces],
                                  subjectIDs: batch.subjectIDs[run.faces], templates: rows, dimension: batch.dimension,
                                  key: try dataKey(tenant: run.tenant))
                    }
                }
            }
            let p = position.value.withLock { $0 }
            let w = try writer ?? GallerySnapshot.Writer(directory: directory, store: defaultTenantID, seq: p.seq, logFaceID: p.faceID)
            try w.commit()
            try pruneFaceLog(before: w.seq)
            var st = stat()
            let bytes = stat(GallerySnapshot.path(in: directory), &st) == 0 ? Int64(st.st_size) : 0
            return GallerySnapshotWritten(faces: w.faces, seq: w.seq, bytes: bytes)
        }
    }

    /// Face-log entries after the snapshot's position (all of them without one), and how many remove a face.
    public func faceLogSinceSnapshot() throws -> (entries: Int, removals: Int) {
        let seq = (try? GallerySnapshot.Reader(directory: directory))??.footer.seq ?? 0
        return try sqliteRead { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(op = 2), 0) FROM face_log WHERE seq > ?", arguments: [seq])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }

    /// Drops face-log entries before `seq` (the snapshot keeps the entry at `seq` to recognise its
    /// position), 5,000 entries per transaction: enrolments wait at most for one slice, even
    /// behind the snapshotter's low-priority thread.
    func pruneFaceLog(before seq: Int64) throws {
        while try write({ db -> Int in
            try db.execute(sql: "DELETE FROM face_log WHERE seq IN (SELECT seq FROM face_log WHERE seq < ? ORDER BY seq LIMIT 5000)",
                           arguments: [seq])
            return db.changesCount
        }) > 0 {}
    }

    static func removeStaleTemporaries(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(GallerySnapshot.fileName + ".tmp-") {
            unlink((directory as NSString).appendingPathComponent(name))
        }
    }

    /// What a load takes from the snapshot, when it agrees with the store.
    struct SnapshotPlan {
        let reader: GallerySnapshot.Reader
        /// The chunks of the tenant and mode asked for.
        let chunks: [Int]
        /// The snapshot's faces removed or changed since it was written.
        let skip: Set<String>
        /// Faces the log's tail adds.
        let added: Int
    }

    private struct Owner: Hashable {
        let tenant: String
        let mode: String
        let gallery: String
    }

    /// The snapshot as it may serve this load, or nil (with the reason in `lastFaceScan`) when
    /// there is none or it does not agree with the store: its log position must still be this
    /// store's, and its faces, less those removed since, plus those added since, must be the
    /// store's faces, gallery by gallery.
    func snapshotPlan(_ db: Database, tenant: String?, mode: Mode?) throws -> SnapshotPlan? {
        func refuse(_ why: String) -> SnapshotPlan? {
            lastScan.withLock { $0 = FaceScanReport(source: .database, note: "gallery snapshot not used: \(why)") }
            return nil
        }
        let reader: GallerySnapshot.Reader
        do {
            guard let r = try GallerySnapshot.Reader(directory: directory) else { return nil }
            reader = r
        } catch {
            return refuse("\(error)")
        }
        let footer = reader.footer
        guard footer.store == defaultTenantID else { return refuse("it was written from another store") }
        let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM face_log") ?? 0
        guard footer.seq <= last else { return refuse("it is ahead of the store's face log") }
        if footer.seq > 0 {
            let id = try String.fetchOne(db, sql: "SELECT face_id FROM face_log WHERE seq = ?", arguments: [footer.seq])
            guard id == footer.logFaceID else { return refuse("its face-log position is not this store's") }
        }
        func wanted(_ t: String, _ m: String) -> Bool { (tenant == nil || t == tenant) && (mode == nil || m == mode?.rawValue) }
        var expected: [Owner: Int] = [:]
        var chunks: [Int] = []
        for (i, c) in footer.chunks.enumerated() where wanted(c.tenant, c.mode) {
            chunks.append(i)
            expected[Owner(tenant: c.tenant, mode: c.mode, gallery: c.gallery), default: 0] += c.faces
        }
        // A face held by the snapshot has its first entry after it removing it (a change is a
        // removal then an addition); a face added since has its first entry adding it.
        var skip = Set<String>()
        let removed = try Row.fetchCursor(db, sql: """
            SELECT l.face_id, l.tenant_id, l.mode, l.gallery FROM face_log l
            JOIN (SELECT face_id, MIN(seq) AS first FROM face_log WHERE seq > ? GROUP BY face_id) f ON l.seq = f.first
            WHERE l.op = 2
            """, arguments: [footer.seq])
        while let row = try removed.next() {
            let t: String = row[1], m: String = row[2]
            guard wanted(t, m) else { continue }
            skip.insert(row[0])
            expected[Owner(tenant: t, mode: m, gallery: row[3]), default: 0] -= 1
        }
        var added = 0
        for row in try Row.fetchAll(db, sql: """
            SELECT f.tenant_id, f.mode, f.gallery, COUNT(*) FROM faces f
            JOIN (SELECT DISTINCT face_id FROM face_log WHERE seq > ? AND op = 1) l ON l.face_id = f.id
            WHERE f.custody = 0 GROUP BY f.tenant_id, f.mode, f.gallery
            """, arguments: [footer.seq]) {
            let t: String = row[0], m: String = row[1], n: Int = row[3]
            guard wanted(t, m) else { continue }
            expected[Owner(tenant: t, mode: m, gallery: row[2]), default: 0] += n
            added += n
        }
        var actual: [Owner: Int] = [:]
        for c in try faceCounts(in: db) where wanted(c.tenant, c.mode.rawValue) {
            actual[Owner(tenant: c.tenant, mode: c.mode.rawValue, gallery: c.gallery)] = c.faces
        }
        guard expected.filter({ $0.value != 0 }) == actual else { return refuse("it does not agree with the store's faces") }
        return SnapshotPlan(reader: reader, chunks: chunks, skip: skip, added: added)
    }

    /// The reader's side of a load from the snapshot: its chunks opened and handed on in batches
    /// (less the faces removed or changed since), then the faces the log's tail adds. A chunk that
    /// does not open ends the snapshot's part: the load goes on from the store, leaving out the
    /// faces already handed on.
    func readSnapshot(_ plan: SnapshotPlan, _ db: Database, tenant: String?, mode: Mode?, batch size: Int,
                      into ahead: ReadAhead<ReadBatch>) throws {
        let reader = plan.reader
        let d = reader.footer.dimension
        var handed: [Int] = []
        var given = 0
        var current = ReadBatch()
        func put() -> Bool {
            guard current.faces.count > 0 else { return true }
            defer { current = ReadBatch() }
            return ahead.put(current)
        }
        var failure: String?
        chunks: for index in plan.chunks {
            let c = reader.footer.chunks[index]
            var templates: [Float] = []
            let ids: (faces: [String], subjects: [String])
            let m: Mode
            do {
                guard let known = Mode(rawValue: c.mode) else { throw GallerySnapshot.Failure.format("mode \(c.mode)") }
                m = known
                ids = try reader.open(chunk: index, key: try dataKey(tenant: c.tenant, in: SQLiteConnection(db: db)), appendingTo: &templates)
            } catch {
                failure = "chunk \(index) did not open (\(error))"
                break chunks
            }
            handed.append(index)
            let going = try templates.withUnsafeBufferPointer { all -> Bool in
                var start = 0
                func flush(_ end: Int) throws -> Bool {
                    var a = start
                    while a < end {
                        let b = min(end, a + size - current.faces.count)
                        try current.faces.append(faceIDs: ids.faces[a..<b], subjectIDs: ids.subjects[a..<b], tenant: c.tenant, mode: m,
                                                 gallery: c.gallery, templates: UnsafeBufferPointer(rebasing: all[(a * d)..<(b * d)]), dimension: d)
                        given += b - a
                        a = b
                        if current.faces.count == size, !put() { return false }
                    }
                    return true
                }
                for j in 0..<c.faces where plan.skip.contains(ids.faces[j]) {
                    guard try flush(j) else { return false }
                    start = j + 1
                }
                return try flush(c.faces)
            }
            // The consumer has gone: stop (a reader blocked on a full hand-off would never return).
            guard going else { return }
        }
        guard put() else { return }
        if let failure {
            // What was handed on stays; the rest comes from the rows themselves.
            // (The ids of a handed chunk were authenticated when it opened; the file is read through
            // the same descriptor, so a snapshot written meanwhile cannot change them.)
            var leaveOut = Set<String>()
            for index in handed {
                for id in try reader.ids(chunk: index).faces where !plan.skip.contains(id) { leaveOut.insert(id) }
            }
            lastScan.withLock { $0 = FaceScanReport(source: .snapshot, snapshotFaces: given, storeFaces: 0, note: "gallery snapshot abandoned: \(failure)") }
            try scanFaces(db, FaceQuery.all(tenant: tenant, mode: mode), batch: size, digests: false, skipping: leaveOut, into: ahead)
            return
        }
        lastScan.withLock { $0 = FaceScanReport(source: .snapshot, snapshotFaces: given, storeFaces: plan.added, note: nil) }
        try scanFaces(db, FaceQuery.added(after: reader.footer.seq, tenant: tenant, mode: mode), batch: size, digests: false, into: ahead)
    }
}
