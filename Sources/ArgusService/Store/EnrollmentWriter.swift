public import ArgusMatching
import Crypto
public import Foundation
import GRDB

/// Writes batch enrolments straight into the store (`argus enroll --data-dir`): one transaction
/// per face, which creates the subject on its first face, so a crash never leaves a half-enrolment
/// and a re-run finds exactly the faces that were committed (keyed by the photo's SHA-256).
public final class EnrollmentWriter: Sendable {
    public let store: ArgusStore
    let tenant: String
    let mode: Mode
    let key: SymmetricKeyBox

    public init(dataDirectory: String, mode: Mode = .test, environment: [String: String]) throws {
        store = try ArgusStore(dataDirectory: dataDirectory, environment: environment)
        tenant = store.defaultTenantID
        self.mode = mode
        key = SymmetricKeyBox(try store.dataKey(tenant: tenant))
    }

    /// SHA-256 (hex) of every photo already enrolled in this tenant and mode.
    public func enrolledImageDigests() throws -> Set<String> {
        try store.pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT image_sha256 FROM faces WHERE tenant_id = ? AND mode = ? AND image_sha256 IS NOT NULL",
                                    arguments: [tenant, mode.rawValue]))
        }
    }

    /// Every enrolled template (decrypted) with its subject's external id, for dedup searches.
    public func loadGallery(dimension: Int) throws -> (gallery: Gallery, subjectOfFace: [String: String]) {
        let gallery = Gallery(dimension: dimension)
        var subjects: [String: String] = [:]
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT faces.id AS id, faces.template AS template, coalesce(subjects.external_id, subjects.id) AS subject
                FROM faces JOIN subjects ON subjects.id = faces.subject_id WHERE faces.tenant_id = ? AND faces.mode = ?
                """, arguments: [tenant, mode.rawValue])
        }
        for row in rows {
            let id: String = row["id"]
            try gallery.add(id: id, template: try KeyVault.openTemplate(row["template"], key: key.key, faceID: id))
            subjects[id] = row["subject"]
        }
        return (gallery, subjects)
    }

    /// Commits one face (and its subject, if new) in a single synchronous transaction.
    /// - Returns: the new face id, or nil when this photo was already enrolled.
    public func enroll(subject externalID: String, template: [Float], box: [Int], quality: String, imageSHA256: String,
                       gallery: String = "default") throws -> String? {
        let faceID = Secrets.identifier("face")
        let sealed = try KeyVault.sealTemplate(template, key: key.key, faceID: faceID)
        let now = Date().timeIntervalSince1970
        return try store.pool.write { db -> String? in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM faces WHERE tenant_id = ? AND mode = ? AND image_sha256 = ?",
                                 arguments: [tenant, mode.rawValue, imageSHA256]) != nil { return nil }
            var subjectID = try String.fetchOne(db, sql: "SELECT id FROM subjects WHERE tenant_id = ? AND mode = ? AND external_id = ?",
                                                arguments: [tenant, mode.rawValue, externalID])
            if subjectID == nil {
                let id = Secrets.identifier("sub")
                try db.execute(sql: "INSERT INTO subjects(id, tenant_id, mode, external_id, created_at) VALUES (?,?,?,?,?)",
                               arguments: [id, tenant, mode.rawValue, externalID, now])
                subjectID = id
            }
            try db.execute(sql: """
                INSERT INTO faces(id, subject_id, tenant_id, mode, gallery, template, box, quality, image_sha256, created_at)
                VALUES (?,?,?,?,?,?,?,?,?,?)
                """, arguments: [faceID, subjectID, tenant, mode.rawValue, gallery, sealed, box.map(String.init).joined(separator: ","),
                                 quality, imageSHA256, now])
            return faceID
        }
    }

    /// (subject external id, photo digest, template) of every enrolled face, sorted: what two runs
    /// must agree on.
    public func snapshot() throws -> [(subject: String, digest: String, template: [Float])] {
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT faces.id AS id, faces.template AS template, faces.image_sha256 AS digest, coalesce(subjects.external_id, subjects.id) AS subject
                FROM faces JOIN subjects ON subjects.id = faces.subject_id WHERE faces.tenant_id = ? AND faces.mode = ?
                """, arguments: [tenant, mode.rawValue])
        }
        return try rows.map { row in
            let id: String = row["id"]
            return (row["subject"], row["digest"] ?? "", try KeyVault.openTemplate(row["template"], key: key.key, faceID: id))
        }.sorted { ($0.subject, $0.digest) < ($1.subject, $1.digest) }
    }
}
