public import Foundation
public import GRDB

public struct Subject: Sendable, Equatable {
    public let id: String
    public let externalID: String?
    public let createdAt: Date
    public var faceIDs: [String]
}

/// A stored face: where it was found and its quality; its template is sealed in the row.
struct StoredFace: Sendable {
    let id: String
    let subjectID: String
    let tenantID: String
    let mode: Mode
    let gallery: String
    let sealedTemplate: Data
}

extension ArgusStore {
    func createSubject(tenant: String, mode: Mode, externalID: String?) throws -> Subject {
        let id = Secrets.identifier("sub")
        let now = Date().timeIntervalSince1970
        do {
            try pool.write { db in
                try db.execute(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at) VALUES (?,?,?,?,?)",
                               arguments: [id, tenant, mode.rawValue, externalID, now])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw APIError.conflict("a subject with external_id '\(externalID ?? "")' already exists")
        }
        return Subject(id: id, externalID: externalID, createdAt: Date(timeIntervalSince1970: now), faceIDs: [])
    }

    func subject(tenant: String, mode: Mode, id: String) throws -> Subject? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                             arguments: [id, tenant, mode.rawValue]) else { return nil }
            let faces = try String.fetchAll(db, sql: "SELECT id FROM faces WHERE subject_id = ? ORDER BY created_at, id", arguments: [id])
            return Subject(id: row["id"], externalID: row["external_id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), faceIDs: faces)
        }
    }

    /// A page of subjects in creation order, after the subject `after` (cursor pagination).
    func subjects(tenant: String, mode: Mode, limit: Int, after: String?, externalID: String? = nil) throws -> (subjects: [Subject], hasMore: Bool) {
        try pool.read { db in
            var sql = "SELECT * FROM subjects WHERE tenant_id = ? AND mode = ?"
            var arguments: StatementArguments = [tenant, mode.rawValue]
            if let externalID {
                sql += " AND external_id = ?"
                arguments += [externalID]
            }
            if let after {
                // The cursor must be a subject of this tenant and mode; any other id is unknown here.
                guard let cursor = try Row.fetchOne(db, sql: "SELECT created_at, id FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                                    arguments: [after, tenant, mode.rawValue]) else {
                    throw APIError.invalidRequest("starting_after: no subject \(after) in this mode")
                }
                sql += " AND (created_at > ? OR (created_at = ? AND id > ?))"
                let at: Double = cursor["created_at"]
                arguments += [at, at, cursor["id"] as String]
            }
            sql += " ORDER BY created_at, id LIMIT ?"
            arguments += [limit + 1]
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let page = try rows.prefix(limit).map { row -> Subject in
                let id: String = row["id"]
                let faces = try String.fetchAll(db, sql: "SELECT id FROM faces WHERE subject_id = ? ORDER BY created_at, id", arguments: [id])
                return Subject(id: id, externalID: row["external_id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), faceIDs: faces)
            }
            return (page, rows.count > limit)
        }
    }

    /// Deletes a subject and its faces. - Returns: the deleted face ids, nil if there was no such subject.
    func deleteSubject(tenant: String, mode: Mode, id: String) throws -> [String]? {
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM subjects WHERE id = ? AND tenant_id = ? AND mode = ?",
                                    arguments: [id, tenant, mode.rawValue]) != nil else { return nil }
            let faces = try String.fetchAll(db, sql: "SELECT id FROM faces WHERE subject_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM subjects WHERE id = ?", arguments: [id])
            return faces
        }
    }

    /// Stores a face in one synchronous transaction: once this returns, the enrolment survives a
    /// crash. With `spending`, the enrolment session is spent in the same transaction, and nothing
    /// is stored if it was spent (or revoked) meanwhile: one session, one face, under any concurrency.
    func insertFace(id: String, subject: String, tenant: String, mode: Mode, gallery: String, sealedTemplate: Data,
                    box: [Int], quality: String, imageSHA256: String?, spending session: String? = nil) throws {
        try pool.write { db in
            if let session, try !Self.spend(db, sessionID: session) {
                throw APIError.sessionSpent("This session was already used successfully")
            }
            try db.execute(sql: """
                INSERT INTO faces(id, subject_id, tenant_id, mode, gallery, template, box, quality, image_sha256, created_at)
                VALUES (?,?,?,?,?,?,?,?,?,?)
                """, arguments: [id, subject, tenant, mode.rawValue, gallery, sealedTemplate,
                                 box.map(String.init).joined(separator: ","), quality, imageSHA256, Date().timeIntervalSince1970])
        }
    }

    func deleteFace(tenant: String, mode: Mode, subject: String, face: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM faces WHERE id = ? AND subject_id = ? AND tenant_id = ? AND mode = ?",
                           arguments: [face, subject, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

    func allFaces() throws -> [StoredFace] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, subject_id, tenant_id, mode, gallery, template FROM faces").map { row in
                StoredFace(id: row["id"], subjectID: row["subject_id"], tenantID: row["tenant_id"], mode: Mode(rawValue: row["mode"]) ?? .test,
                           gallery: row["gallery"], sealedTemplate: row["template"])
            }
        }
    }
}

extension ArgusStore {
    /// Fills the store with `count` subjects of one synthetic (random, unit-length) template each,
    /// sealed like real ones: a gallery of a given size for load tests, without 10,000 photos.
    public func seedSyntheticSubjects(count: Int, dimension: Int) throws {
        let tenant = defaultTenantID
        let key = try dataKey(tenant: tenant)
        var rng = SystemRandomNumberGenerator()
        let now = Date().timeIntervalSince1970
        try pool.write { db in
            for i in 0..<count {
                let subject = Secrets.identifier("sub"), face = Secrets.identifier("face")
                var t = (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) }
                let norm = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
                t = t.map { $0 / norm }
                try db.execute(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at) VALUES (?,?,?,?,?)",
                               arguments: [subject, tenant, Mode.test.rawValue, "synthetic-\(i)", now])
                try db.execute(sql: """
                    INSERT INTO faces(id, subject_id, tenant_id, mode, gallery, template, box, quality, image_sha256, created_at)
                    VALUES (?,?,?,?,?,?,?,?,?,?)
                    """, arguments: [face, subject, tenant, Mode.test.rawValue, "default",
                                     try KeyVault.sealTemplate(t, key: key, faceID: face), "0,0,0,0", "{}", nil, now])
            }
        }
    }
}

extension ArgusStore {
    /// The face already enrolled on `subject` from a photo with these bytes, if any (idempotent enrolment).
    func face(subject: String, tenant: String, mode: Mode, imageSHA256: String) throws -> String? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT id FROM faces WHERE subject_id = ? AND tenant_id = ? AND mode = ? AND image_sha256 = ?",
                                arguments: [subject, tenant, mode.rawValue, imageSHA256])
        }
    }
}
