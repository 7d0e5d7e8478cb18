import Crypto
public import Foundation
import GRDB
import Synchronization

public struct Subject: Sendable, Equatable {
    public let id: String
    public let externalID: String?
    public let createdAt: Date
    public var faceIDs: [String]
    /// Who holds the key of its templates: the server (the tenant's data key) or the client.
    public let custody: KeyCustody
}

/// `client`: every template of the subject is sealed with a per-subject key the server never
/// keeps; it opens them only for a request that brings the key. Such subjects are never searched 1:N.
public enum KeyCustody: String, Sendable, Codable {
    case server
    case client
}

extension SQLBackedStore {
    public func createSubject(tenant: String, mode: Mode, externalID: String?, custody: KeyCustody) throws -> Subject {
        let id = Secrets.sortableIdentifier("sub")
        let now = Date().timeIntervalSince1970
        do {
            try write { db in
                try db.execute(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at, key_custody) VALUES (?,?,?,?,?,?)",
                               arguments: [id, tenant, mode.rawValue, externalID, now, custody.rawValue])
            }
        } catch StoreError.conflict {
            throw StoreError.conflict("a subject with external_id '\(externalID ?? "")' already exists")
        }
        return Subject(id: id, externalID: externalID, createdAt: Date(timeIntervalSince1970: now), faceIDs: [], custody: custody)
    }

    public func subject(tenant: String, mode: Mode, id: String) throws -> Subject? {
        try read { db in
            guard let row = try db.fetchOne(sql: "SELECT * FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                             arguments: [id, tenant, mode.rawValue]) else { return nil }
            return try Self.subject(row, db)
        }
    }

    private static func subject(_ row: Row, _ db: any SQLDatabase) throws -> Subject {
        let id: String = row["id"]
        let faces = try db.fetchAll(String.self, sql: "SELECT id FROM faces WHERE subject_id = ? ORDER BY created_at, id", arguments: [id])
        return Subject(id: id, externalID: row["external_id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), faceIDs: faces,
                       custody: KeyCustody(rawValue: row["key_custody"] ?? "server") ?? .server)
    }

    public func subjects(tenant: String, mode: Mode, limit: Int, after: String?, externalID: String?) throws -> SubjectPage {
        try read { db in
            var sql = "SELECT * FROM subjects WHERE tenant_id = ? AND mode = ?"
            var arguments: SQLArguments = [tenant, mode.rawValue]
            if let externalID {
                sql += " AND external_id = ?"
                arguments += [externalID]
            }
            if let after {
                // The cursor must be a subject of this tenant and mode; any other id is unknown here.
                guard let cursor = try db.fetchOne(sql: "SELECT created_at, id FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                                    arguments: [after, tenant, mode.rawValue]) else {
                    throw StoreError.invalid("starting_after: no subject \(after) in this mode")
                }
                sql += " AND (created_at > ? OR (created_at = ? AND id > ?))"
                let at: Double = cursor["created_at"]
                arguments += [at, at, cursor["id"] as String]
            }
            sql += " ORDER BY created_at, id LIMIT ?"
            arguments += [limit + 1]
            let rows = try db.fetchAll(sql: sql, arguments: arguments)
            return SubjectPage(subjects: try rows.prefix(limit).map { try Self.subject($0, db) }, hasMore: rows.count > limit)
        }
    }

    public func deleteSubject(tenant: String, mode: Mode, id: String) throws -> [String]? {
        try write { db in
            guard try db.fetchOne(Bool.self, sql: "SELECT 1 FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                    arguments: [id, tenant, mode.rawValue]) != nil else { return nil }
            let faces = try db.fetchAll(String.self, sql: "SELECT id FROM faces WHERE subject_id = ?", arguments: [id])
            let external = try db.fetchOne(String.self, sql: "SELECT external_id FROM subjects WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM subjects WHERE id = ?", arguments: [id])
            try Self.emit([NewEvent(type: .subjectDeleted, data: ["subject_id": id, "external_id": external ?? ""])], tenant: tenant, mode: mode, db)
            return faces
        }
    }
}

extension SQLBackedStore {
    public func writeFaces(_ faces: [NewFace], tenant: String, mode: Mode, spending session: String?) throws -> [FaceWrite] {
        try writeFacesInTransaction(faces, tenant: tenant, mode: mode, spending: session)
    }

    /// The body of `writeFaces`, which a backend may wrap.
    func writeFacesInTransaction(_ faces: [NewFace], tenant: String, mode: Mode, spending session: String?) throws -> [FaceWrite] {
        let key = try dataKey(tenant: tenant)
        // Sealed before the transaction: the write lock is held for the inserts only.
        // Large batches (bench seed, batch enrolment) are sealed on every core.
        let sealed = try Self.sealAll(faces, key: key)
        let now = Date().timeIntervalSince1970
        return try write { db in
            if let session, try !Self.spend(db, sessionID: session) {
                throw StoreError.sessionSpent("This session was already used successfully")
            }
            var written: [FaceWrite] = []
            written.reserveCapacity(faces.count)
            var endpoints: [Row]?  // the tenant's webhook endpoints, read once per transaction
            // Over a network, a batch's subjects and photos are looked up together: one statement per
            // 500, not a round trip per face. (SQLite answers each from its statement cache faster.)
            let together = faces.count > 1 && db.dialect == .postgres
            var known = together ? try Self.knownSubjects(faces, tenant: tenant, mode: mode, db) : nil
            var photos = together ? try Self.knownPhotos(faces, tenant: tenant, mode: mode, db) : nil
            for (face, s) in zip(faces, sealed) {
                let subjectID: String, keyCustody: KeyCustody
                if case .external(let external, _) = face.subject, let found = known?[external] {
                    (subjectID, keyCustody) = found
                } else if case .external(let external, true) = face.subject, known != nil {
                    // Looked up with the batch and absent: made now, and known to the rest of the batch.
                    subjectID = Secrets.sortableIdentifier("sub")
                    keyCustody = .server
                    try db.executeLater(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at) VALUES (?,?,?,?,?)",
                                        arguments: [subjectID, tenant, mode.rawValue, external, now])
                    known?[external] = (subjectID, .server)
                } else {
                    (subjectID, keyCustody) = try Self.resolve(face.subject, tenant: tenant, mode: mode, db, now: now)
                }
                let custody = keyCustody == .client
                guard custody == (face.subjectKey != nil) else {
                    throw StoreError.invalid(custody ? "a client-custody subject's faces are sealed with its own key" : "only client-custody subjects take a subject key")
                }
                if custody {
                    // A new key for the subject: its older faces (sealed with the old key) go with it.
                    try db.execute(sql: "DELETE FROM faces WHERE subject_id = ?", arguments: [subjectID])
                } else if let digest = face.imageSHA256,
                   let existing = try photos.map({ $0[StoredPhoto(subject: subjectID, digest: digest)] })
                                      ?? db.fetchOne(String.self, sql: "SELECT id FROM faces WHERE subject_id = ? AND image_sha256 = ?",
                                                     arguments: [subjectID, digest]) {
                    written.append(FaceWrite(faceID: existing, subjectID: subjectID, alreadyEnrolled: true))
                    continue
                }
                if !custody, let digest = face.imageSHA256 { photos?[StoredPhoto(subject: subjectID, digest: digest)] = s.id }
                try db.executeLater(sql: """
                    INSERT INTO faces(id, subject_id, tenant_id, mode, gallery, template, box, quality, image_sha256, created_at, custody)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?)
                    """, arguments: [s.id, subjectID, tenant, mode.rawValue, face.gallery, s.sealed,
                                     // A client-custody face keeps nothing in clear that could tie a photo to it.
                                     custody ? "" : face.box.map(String.init).joined(separator: ","), custody ? "{}" : s.quality,
                                     custody ? nil : face.imageSHA256, now, custody ? 1 : 0])
                if !custody {
                    try db.executeLater(sql: "INSERT INTO face_log(face_id, op, tenant_id, mode, gallery) VALUES (?, 1, ?, ?, ?)",
                                        arguments: [s.id, tenant, mode.rawValue, face.gallery])
                }
                written.append(FaceWrite(faceID: s.id, subjectID: subjectID, alreadyEnrolled: false))
                var events = [NewEvent(type: .faceEnrolled, data: ["face_id": s.id, "subject_id": subjectID, "gallery": face.gallery])]
                if !face.duplicates.isEmpty {
                    events.append(NewEvent(type: .faceDuplicateCandidate, data: ["face_id": s.id, "subject_id": subjectID, "candidates": face.duplicates]))
                }
                try Self.emit(events, tenant: tenant, mode: mode, db, endpoints: &endpoints)
            }
            return written
        }
    }

    /// Ids, quality JSON and sealed templates for a batch; batches of 256 or more are split over the cores.
    private static func sealAll(_ faces: [NewFace], key: SymmetricKey) throws -> [(id: String, sealed: Data, quality: String)] {
        let ids = Secrets.sortableIdentifiers("face", count: faces.count)
        @Sendable func seal(_ i: Int, previous: inout (StoredQuality, String)?) throws -> (id: String, sealed: Data, quality: String) {
            let face = faces[i], id = ids[i]
            // Faces of a batch often share their quality (a bulk seed: all unmeasured): encoded once then.
            let quality: String
            if let (q, text) = previous, q == face.quality {
                quality = text
            } else {
                quality = String(decoding: try QualityEncoding.encoder.encode(face.quality), as: UTF8.self)
                previous = (face.quality, quality)
            }
            // A client-custody face is sealed with its subject's key, which is not kept.
            let sealingKey = face.subjectKey.map { SymmetricKey(data: $0) } ?? key
            return (id, try guarded { try KeyVault.sealTemplate(face.template, key: sealingKey, faceID: id) }, quality)
        }
        @Sendable func sealRange(_ range: Range<Int>) throws -> [(id: String, sealed: Data, quality: String)] {
            var previous: (StoredQuality, String)?
            return try range.map { try seal($0, previous: &previous) }
        }
        let parts = faces.count >= 256 ? max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)) : 1
        guard parts > 1 else { return try sealRange(0..<faces.count) }
        let results = Mutex([[(id: String, sealed: Data, quality: String)]?](repeating: nil, count: parts))
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (faces.count * part / parts)..<(faces.count * (part + 1) / parts)
            do {
                let chunk = try sealRange(range)
                results.withLock { $0[part] = chunk }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0.flatMap { $0 ?? [] } }
    }


    /// The subject's id in this tenant and mode; an external id may create it.
    /// The subjects a batch names by external id that exist, with their custody (nil: none named).
    private static func knownSubjects(_ faces: [NewFace], tenant: String, mode: Mode,
                                      _ db: any SQLDatabase) throws -> [String: (String, KeyCustody)]? {
        let externals = Array(Set(faces.compactMap { face -> String? in
            if case .external(let e, _) = face.subject { return e } else { return nil }
        }))
        guard !externals.isEmpty else { return nil }
        var known: [String: (String, KeyCustody)] = [:]
        for start in stride(from: 0, to: externals.count, by: 500) {
            let part = externals[start..<min(start + 500, externals.count)]
            let marks = Array(repeating: "?", count: part.count).joined(separator: ",")
            for row in try db.fetchAll(sql: "SELECT external_id, id, key_custody FROM subjects WHERE tenant_id = ? AND mode = ? AND external_id IN (\(marks))",
                                       arguments: SQLArguments([tenant, mode.rawValue] + part.map { $0 as (any DatabaseValueConvertible)? })) {
                known[row["external_id"]] = (row["id"], KeyCustody(rawValue: row["key_custody"] ?? "server") ?? .server)
            }
        }
        return known
    }

    /// The faces already stored from the batch's photos, by subject and digest (nil: no digests).
    private static func knownPhotos(_ faces: [NewFace], tenant: String, mode: Mode, _ db: any SQLDatabase) throws -> [StoredPhoto: String]? {
        let digests = Array(Set(faces.compactMap(\.imageSHA256)))
        guard !digests.isEmpty else { return nil }
        var known: [StoredPhoto: String] = [:]
        for start in stride(from: 0, to: digests.count, by: 500) {
            let part = digests[start..<min(start + 500, digests.count)]
            let marks = Array(repeating: "?", count: part.count).joined(separator: ",")
            for row in try db.fetchAll(sql: "SELECT subject_id, image_sha256, id FROM faces WHERE tenant_id = ? AND mode = ? AND image_sha256 IN (\(marks))",
                                       arguments: SQLArguments([tenant, mode.rawValue] + part.map { $0 as (any DatabaseValueConvertible)? })) {
                known[StoredPhoto(subject: row["subject_id"], digest: row["image_sha256"])] = row["id"]
            }
        }
        return known
    }

    /// The subject's id and custody in this tenant and mode; an external id may create it (server custody).
    private static func resolve(_ reference: SubjectReference, tenant: String, mode: Mode, _ db: any SQLDatabase,
                                now: Double) throws -> (id: String, custody: KeyCustody) {
        switch reference {
        case .id(let id):
            guard let custody = try db.fetchOne(String.self, sql: "SELECT key_custody FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                                arguments: [id, tenant, mode.rawValue]) else { throw StoreError.notFound("subject") }
            return (id, KeyCustody(rawValue: custody) ?? .server)
        case .external(let external, let create):
            if let row = try db.fetchOne(sql: "SELECT id, key_custody FROM subjects WHERE tenant_id = ? AND mode = ? AND external_id = ?",
                                         arguments: [tenant, mode.rawValue, external]) {
                return (row["id"], KeyCustody(rawValue: row["key_custody"] ?? "server") ?? .server)
            }
            guard create else { throw StoreError.notFound("subject") }
            let id = Secrets.sortableIdentifier("sub")
            try db.executeLater(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at) VALUES (?,?,?,?,?)",
                                arguments: [id, tenant, mode.rawValue, external, now])
            return (id, .server)
        }
    }

    public func enrolledFace(tenant: String, mode: Mode, subject: SubjectReference, imageSHA256: String) throws -> FaceWrite? {
        try read { db in
            let row: Row?
            switch subject {
            case .id(let id):
                row = try db.fetchOne(sql: """
                    SELECT faces.id AS face, faces.subject_id AS subject FROM faces JOIN subjects ON subjects.id = faces.subject_id
                    WHERE subjects.id = ? AND subjects.tenant_id = ? AND subjects.mode = ? AND faces.image_sha256 = ?
                    """, arguments: [id, tenant, mode.rawValue, imageSHA256])
            case .external(let external, _):
                row = try db.fetchOne(sql: """
                    SELECT faces.id AS face, faces.subject_id AS subject FROM faces JOIN subjects ON subjects.id = faces.subject_id
                    WHERE subjects.external_id = ? AND subjects.tenant_id = ? AND subjects.mode = ? AND faces.image_sha256 = ?
                    """, arguments: [external, tenant, mode.rawValue, imageSHA256])
            }
            return row.map { FaceWrite(faceID: $0["face"], subjectID: $0["subject"], alreadyEnrolled: true) }
        }
    }

    public func custodyTemplates(tenant: String, mode: Mode, subject: String, key: Data) throws -> [[Float]] {
        let rows = try read { db in
            try db.fetchAll(sql: "SELECT id, template FROM faces WHERE subject_id = ? AND tenant_id = ? AND mode = ? AND custody = 1",
                             arguments: [subject, tenant, mode.rawValue])
        }
        let k = SymmetricKey(data: key)
        return try rows.map { row in
            do { return try KeyVault.openTemplate(row["template"], key: k, faceID: row["id"]) } catch {
                throw StoreError.sealed("the subject key does not open this subject's templates")
            }
        }
    }

    public func deleteFace(tenant: String, mode: Mode, subject: String, face: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM faces WHERE id = ? AND subject_id = ? AND tenant_id = ? AND mode = ?",
                           arguments: [face, subject, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

}

// The scan of every face is the backend's own (here: SQLite's cursor, the mapped file and the gallery snapshot).
extension SQLiteStore {
    public func forEachFaceBatch(tenant: String?, mode: Mode?, batch: Int, digests: Bool, _ body: (FaceBatch) throws -> Void) throws {
        try forEachFaceBatch(tenant: tenant, mode: mode, batch: batch, digests: digests, snapshot: !digests, body)
    }

    /// `snapshot`: whether the gallery snapshot may serve the faces it holds (it has no digests).
    func forEachFaceBatch(tenant: String?, mode: Mode?, batch: Int, digests: Bool, snapshot: Bool,
                          inTransaction start: (@Sendable (Database) throws -> Void)? = nil, _ body: (FaceBatch) throws -> Void) throws {
        // A thread of its own reads the rows and opens their templates while this one hands them
        // on (a start-up indexes them meanwhile): a load at a million faces uses both cores.
        let ahead = ReadAhead<ReadBatch>(depth: 3)
        let done = DispatchSemaphore(value: 0)
        let size = max(1, batch)
        let reader = Thread { [self] in
            defer { done.signal() }
            do {
                try sqliteRead { db in
                    try start?(db)
                    // The file is mapped for this pass (pages read in place, not copied out by a
                    // syscall each), and unmapped after it: the connection goes back as it was.
                    try db.execute(sql: "PRAGMA mmap_size = 17179869184")
                    defer { try? db.execute(sql: "PRAGMA mmap_size = 0") }
                    if snapshot { lastScan.withLock { $0 = FaceScanReport() } }
                    if snapshot, let plan = try snapshotPlan(db, tenant: tenant, mode: mode) {
                        try readSnapshot(plan, db, tenant: tenant, mode: mode, batch: size, into: ahead)
                    } else {
                        try scanFaces(db, FaceQuery.all(tenant: tenant, mode: mode), batch: size, digests: digests, into: ahead)
                    }
                }
                ahead.finish()
            } catch {
                ahead.finish(error)
            }
        }
        reader.start()
        defer {
            ahead.cancel()
            done.wait()
        }
        var total = 0
        while var next = try ahead.take() {
            // The reader opened the first part of the batch; this thread opens the rest.
            try Self.guarded {
                for face in next.sealed {
                    let values = try KeyVault.openTemplate(face.sealed, key: face.key.key, faceID: face.faceID, appendingTo: &next.faces.templates)
                    try next.faces.opened(values: values, faceID: face.faceID)
                }
            }
            total += next.faces.count
            try body(next.faces)
        }
        if snapshot { lastScan.withLock { $0.storeFaces = total - $0.snapshotFaces } }
    }

    /// A batch as the reader hands it over: its last faces' templates still sealed.
    struct ReadBatch: Sendable {
        struct Sealed: Sendable {
            let faceID: String
            let sealed: Data
            let key: SymmetricKeyBox
        }
        var faces = FaceBatch()
        var sealed: [Sealed] = []
    }

    /// The share of a batch's AES-GCM openings the reader does itself: the rest go to the consumer,
    /// which indexes meanwhile. (All on the reader, it was the slower thread of a start-up.)
    private static let readerOpens = 0.45

    /// Which faces a scan reads, in which order; every query selects
    /// `id, subject_id, tenant_id, mode, gallery, template, image_sha256` of server-custody faces.
    struct FaceQuery {
        let sql: String
        let arguments: StatementArguments

        /// Every face, in table order (rowid): one sequential pass, no sort and no join. (Sorting
        /// a million rows with their templates by creation time went through a temporary B-tree on disk.)
        static func all(tenant: String?, mode: Mode?) -> FaceQuery {
            FaceQuery(sql: """
                SELECT id, subject_id, tenant_id, mode, gallery, template, image_sha256 FROM faces
                WHERE (? IS NULL OR tenant_id = ?) AND (? IS NULL OR mode = ?) AND custody = 0
                ORDER BY rowid
                """, arguments: [tenant, tenant, mode?.rawValue, mode?.rawValue])
        }

        /// The faces added after face-log position `seq` that are still there. In no particular
        /// order: sorting them would sort their templates too (in memory, at hundreds of thousands).
        static func added(after seq: Int64, tenant: String?, mode: Mode?) -> FaceQuery {
            FaceQuery(sql: """
                SELECT f.id, f.subject_id, f.tenant_id, f.mode, f.gallery, f.template, f.image_sha256 FROM faces f
                WHERE f.id IN (SELECT face_id FROM face_log WHERE seq > ? AND op = 1)
                AND (? IS NULL OR f.tenant_id = ?) AND (? IS NULL OR f.mode = ?) AND f.custody = 0
                """, arguments: [seq, tenant, tenant, mode?.rawValue, mode?.rawValue])
        }
    }

    /// The reader's side of `forEachFaceBatch`: rows in the query's order, the first templates of
    /// each batch opened into its contiguous rows, the rest passed on sealed. Owner columns repeat
    /// from row to row and become a `String` only when they change. Faces in `skipping` are left out.
    /// - Returns: false when the consumer has gone.
    @discardableResult
    func scanFaces(_ db: Database, _ query: FaceQuery, batch size: Int, digests: Bool, skipping: Set<String>? = nil,
                   into ahead: ReadAhead<ReadBatch>) throws -> Bool {
        let rows = try Row.fetchCursor(db, sql: query.sql, arguments: query.arguments)
        let opensHere = max(1, Int(Double(size) * Self.readerOpens))
        var current = ReadBatch()
        var owner: (tenant: String, mode: Mode, gallery: String, key: SymmetricKeyBox)?
        func same(_ row: Row, _ index: Int, _ value: String) throws -> Bool {
            var value = value
            return try row.withUnsafeData(atIndex: index) { data in
                guard let data else { return false }
                return data.withUnsafeBytes { stored in value.withUTF8 { stored.elementsEqual(UnsafeRawBufferPointer($0)) } }
            }
        }
        while let row = try rows.next() {
            let unchanged: Bool
            if let o = owner {
                unchanged = try same(row, 2, o.tenant) && same(row, 3, o.mode.rawValue) && same(row, 4, o.gallery)
            } else {
                unchanged = false
            }
            if !unchanged {
                let t: String = row[2], g: String = row[4]
                owner = (t, Mode(rawValue: row[3]) ?? .test, g, SymmetricKeyBox(try dataKey(tenant: t, in: SQLiteConnection(db: db))))
            }
            guard let o = owner else { continue }
            let id: String = row[0]
            if let skipping, skipping.contains(id) { continue }
            current.faces.append(faceID: id, subjectID: row[1], tenant: o.tenant, mode: o.mode, gallery: o.gallery,
                                 imageSHA256: digests ? row[6] : nil)
            if current.faces.count <= opensHere {
                try Self.guarded {
                    try row.withUnsafeData(atIndex: 5) { sealed in
                        let values = try KeyVault.openTemplate(sealed ?? Data(), key: o.key.key, faceID: id, appendingTo: &current.faces.templates)
                        try current.faces.opened(values: values, faceID: id)
                    }
                }
            } else {
                current.sealed.append(ReadBatch.Sealed(faceID: id, sealed: try row.withUnsafeData(atIndex: 5) { Data($0 ?? Data()) }, key: o.key))
            }
            if current.faces.count == size {
                guard ahead.put(current) else { return false }
                current = ReadBatch()
            }
        }
        return current.faces.count == 0 || ahead.put(current)
    }

    public func faceCounts() throws -> [FaceCount] {
        try sqliteRead { db in try faceCounts(in: db) }
    }

    func faceCounts(in db: Database) throws -> [FaceCount] {
        // The covering index (tenant, mode, gallery, custody): no template is read.
        try Row.fetchAll(db, sql: """
            SELECT tenant_id, mode, gallery, COUNT(*) FROM faces INDEXED BY faces_gallery WHERE custody = 0
            GROUP BY tenant_id, mode, gallery
            """).map { FaceCount(tenant: $0[0], mode: Mode(rawValue: $0[1]) ?? .test, gallery: $0[2], faces: $0[3]) }
    }
}


enum QualityEncoding {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}

/// A photo stored on a subject: what makes a second enrolment of it idempotent.
struct StoredPhoto: Hashable {
    let subject: String
    let digest: String
}
