import Foundation

extension SQLBackedStore {
    public func audit(_ entry: AuditEntry) throws {
        let insert = { [self] in
            try write { db in
                try db.execute(sql: """
                    INSERT INTO audit(at, tenant_id, mode, credential_id, operation, subject_id, target_id, outcome, request_id) VALUES (?,?,?,?,?,?,?,?,?)
                    """, arguments: [Date().timeIntervalSince1970, entry.tenant, entry.mode?.rawValue, entry.credential, entry.operation, entry.subject,
                                     entry.target, entry.outcome, entry.requestID])
            }
        }
        // Retried once (a busy timeout under a burst), then thrown: no row is dropped silently.
        do { try insert() } catch { try insert() }
    }

    public func auditRows(tenant: String?) throws -> [[String: String]] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM audit WHERE CAST(? AS TEXT) IS NULL OR tenant_id = ? ORDER BY id", arguments: [tenant, tenant]).map { row in
                var out: [String: String] = [:]
                for column in ["tenant_id", "credential_id", "operation", "subject_id", "target_id", "outcome", "request_id"] {
                    if let v: String = row[column] { out[column] = v }
                }
                return out
            }
        }
    }
}
