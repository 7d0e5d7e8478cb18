import Crypto
public import Foundation
import GRDB

/// The events a webhook endpoint can receive.
public enum EventType: String, Sendable, Codable, CaseIterable {
    case sessionSucceeded = "session.succeeded"
    case sessionFailed = "session.failed"
    case sessionExpired = "session.expired"
    case faceEnrolled = "face.enrolled"
    case faceDuplicateCandidate = "face.duplicate_candidate"
    case subjectDeleted = "subject.deleted"
}

/// An event to write in the transaction of the change that caused it.
public struct NewEvent: Sendable {
    public let type: EventType
    /// Its `data` object: strings, numbers, booleans and arrays of strings.
    public let data: [String: any Sendable]
    public init(type: EventType, data: [String: any Sendable]) {
        self.type = type
        self.data = data
    }
}

public struct WebhookEndpointRecord: Sendable, Equatable {
    public let id: String
    public let tenantID: String
    public let mode: Mode
    public let url: String
    public let events: Set<EventType>
    public let createdAt: Date
    public let disabledAt: Date?
    public let disabledReason: String?
    public let failingSince: Date?

    init(row: Row) {
        id = row["id"]
        tenantID = row["tenant_id"]
        mode = Mode(rawValue: row["mode"]) ?? .test
        url = row["url"]
        events = Set((row["events"] as String).split(separator: " ").compactMap { EventType(rawValue: String($0)) })
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        disabledAt = (row["disabled_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        disabledReason = row["disabled_reason"]
        failingSince = (row["failing_since"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

/// A delivery due now: the event's body and where it goes, with the endpoint's signing secret.
public struct DueDelivery: Sendable {
    public let id: String
    public let endpointID: String
    public let url: String
    public let secret: String
    public let eventID: String
    public let eventCreatedAt: Date
    /// The event JSON, exactly as it is sent (and signed).
    public let body: Data
    public let attempts: Int
}

public struct DeliveryRecord: Sendable, Equatable {
    public let id: String
    public let eventID: String
    public let type: String
    public let status: String
    public let attempts: Int
    public let lastStatus: Int?
    public let lastError: String?
    public let lastAt: Date?
    public let nextAt: Date
}

extension SQLBackedStore {
    static func webhookSecretContext(_ id: String) -> String { "webhook-secret:\(id)" }

    public func createWebhookEndpoint(tenant: String, mode: Mode, url: String, events: Set<EventType>) throws -> (WebhookEndpointRecord, String) {
        let id = Secrets.identifier("we")
        let secret = "whsec_" + Secrets.random(bytes: 24)
        let sealed = try Self.guarded { try vault.wrap(Data(secret.utf8), context: Self.webhookSecretContext(id)) }
        return try write { db in
            try db.execute(sql: "INSERT INTO webhook_endpoints(id, tenant_id, mode, url, events, sealed_secret, created_at) VALUES (?,?,?,?,?,?,?)",
                           arguments: [id, tenant, mode.rawValue, url, events.map(\.rawValue).sorted().joined(separator: " "), sealed,
                                       Date().timeIntervalSince1970])
            guard let row = try db.fetchOne(sql: "SELECT * FROM webhook_endpoints WHERE id = ?", arguments: [id]) else {
                throw StoreError.unavailable("endpoint \(id) was not stored")
            }
            return (WebhookEndpointRecord(row: row), secret)
        }
    }

    public func webhookEndpoints(tenant: String, mode: Mode) throws -> [WebhookEndpointRecord] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM webhook_endpoints WHERE tenant_id = ? AND mode = ? AND deleted_at IS NULL ORDER BY created_at, id",
                             arguments: [tenant, mode.rawValue]).map(WebhookEndpointRecord.init(row:))
        }
    }

    public func webhookEndpoint(tenant: String, mode: Mode, id: String) throws -> WebhookEndpointRecord? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM webhook_endpoints WHERE id = ? AND tenant_id = ? AND mode = ? AND deleted_at IS NULL",
                             arguments: [id, tenant, mode.rawValue]).map(WebhookEndpointRecord.init(row:))
        }
    }

    public func updateWebhookEndpoint(tenant: String, mode: Mode, id: String, url: String?, events: Set<EventType>?, enabled: Bool?) throws -> WebhookEndpointRecord? {
        try write { db in
            guard try db.fetchOne(Bool.self, sql: "SELECT 1 FROM webhook_endpoints WHERE id = ? AND tenant_id = ? AND mode = ? AND deleted_at IS NULL",
                                    arguments: [id, tenant, mode.rawValue]) != nil else { return nil }
            if let url { try db.execute(sql: "UPDATE webhook_endpoints SET url = ? WHERE id = ?", arguments: [url, id]) }
            if let events {
                try db.execute(sql: "UPDATE webhook_endpoints SET events = ? WHERE id = ?", arguments: [events.map(\.rawValue).sorted().joined(separator: " "), id])
            }
            if let enabled {
                if enabled {
                    try db.execute(sql: "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL WHERE id = ?", arguments: [id])
                } else {
                    try db.execute(sql: "UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = 'disabled by the tenant' WHERE id = ?",
                                   arguments: [Date().timeIntervalSince1970, id])
                }
            }
            return try db.fetchOne(sql: "SELECT * FROM webhook_endpoints WHERE id = ?", arguments: [id]).map(WebhookEndpointRecord.init(row:))
        }
    }

    public func deleteWebhookEndpoint(tenant: String, mode: Mode, id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ? AND tenant_id = ? AND mode = ? AND deleted_at IS NULL",
                           arguments: [Date().timeIntervalSince1970, id, tenant, mode.rawValue])
            return db.changesCount > 0
        }
    }

    public func rollWebhookSecret(tenant: String, mode: Mode, id: String) throws -> String? {
        let secret = "whsec_" + Secrets.random(bytes: 24)
        let sealed = try Self.guarded { try vault.wrap(Data(secret.utf8), context: Self.webhookSecretContext(id)) }
        return try write { db in
            try db.execute(sql: "UPDATE webhook_endpoints SET sealed_secret = ? WHERE id = ? AND tenant_id = ? AND mode = ? AND deleted_at IS NULL",
                           arguments: [sealed, id, tenant, mode.rawValue])
            return db.changesCount > 0 ? secret : nil
        }
    }

    /// Writes events, and a delivery for each live endpoint subscribed to each, inside an open transaction.
    static func emit(_ events: [NewEvent], tenant: String, mode: Mode, _ db: any SQLDatabase) throws {
        var endpoints: [Row]?
        try emit(events, tenant: tenant, mode: mode, db, endpoints: &endpoints)
    }

    /// `endpoints`: the tenant's live endpoints, read on first use and kept by the caller for the
    /// rest of its transaction (a batch of faces reads them once).
    static func emit(_ events: [NewEvent], tenant: String, mode: Mode, _ db: any SQLDatabase, endpoints cached: inout [Row]?) throws {
        guard !events.isEmpty else { return }
        let endpoints = try cached ?? db.fetchAll(sql: """
            SELECT id, events FROM webhook_endpoints WHERE tenant_id = ? AND mode = ? AND deleted_at IS NULL AND disabled_at IS NULL
            """, arguments: [tenant, mode.rawValue])
        cached = endpoints
        let now = Date().timeIntervalSince1970
        for event in events {
            let targets = endpoints.filter { ($0["events"] as String).split(separator: " ").contains(Substring(event.type.rawValue)) }
            guard !targets.isEmpty else { continue }
            let id = Secrets.identifier("evt")
            let data = String(decoding: try JSONSerialization.data(withJSONObject: event.data, options: [.sortedKeys]), as: UTF8.self)
            try db.executeLater(sql: "INSERT INTO events(id, tenant_id, mode, type, created_at, data) VALUES (?,?,?,?,?,?)",
                           arguments: [id, tenant, mode.rawValue, event.type.rawValue, now, data])
            for endpoint in targets {
                try db.executeLater(sql: "INSERT INTO deliveries(id, event_id, endpoint_id, status, next_at, created_at) VALUES (?,?,?, 'pending', ?, ?)",
                               arguments: [Secrets.identifier("dlv"), id, endpoint["id"] as String, now, now])
            }
        }
    }

    public func emit(_ events: [NewEvent], tenant: String, mode: Mode) throws {
        try write { db in try Self.emit(events, tenant: tenant, mode: mode, db) }
    }

    /// Seconds a delivery handed to a dispatcher is not handed to another.
    static var deliveryLease: Double { 60 }

    public func dueDeliveries(limit: Int, now: Date = Date()) throws -> [DueDelivery] {
        // Claimed in the transaction that reads them: each is leased for `deliveryLease` seconds
        // (longer than an attempt may take), so of several nodes' dispatchers one sends it. A node
        // killed mid-attempt leaves it to be sent again when the lease ends: at least once, never lost.
        let rows = try write { db in
            let due = try db.fetchAll(sql: """
                SELECT d.id AS id, d.attempts AS attempts, e.id AS event_id, e.type AS type, e.created_at AS created, e.data AS data,
                       w.id AS endpoint_id, w.url AS url, w.sealed_secret AS secret
                FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
                WHERE d.status = 'pending' AND d.next_at <= ? AND w.deleted_at IS NULL AND w.disabled_at IS NULL
                ORDER BY d.next_at LIMIT ?
                """, arguments: [now.timeIntervalSince1970, max(64, limit)])
            // One attempt per endpoint at a time: the earliest due of each, at most `limit`.
            var endpoints = Set<String>()
            let claimed = due.filter { endpoints.insert($0["endpoint_id"] as String).inserted }.prefix(limit)
            for row in claimed {
                try db.execute(sql: "UPDATE deliveries SET next_at = ? WHERE id = ?",
                               arguments: [now.timeIntervalSince1970 + Self.deliveryLease, row["id"] as String])
            }
            return Array(claimed)
        }
        return try rows.map { row in
            let endpointID: String = row["endpoint_id"], eventID: String = row["event_id"], created: Double = row["created"]
            let secret = try Self.guarded { try vault.unwrap(row["secret"], context: Self.webhookSecretContext(endpointID)) }
            // The event as sent: id, type, created (unix seconds) and data, keys sorted; the same bytes on every attempt.
            let dataText: String = row["data"]
            let body = Data("{\"created\":\(Int(created)),\"data\":\(dataText),\"id\":\"\(eventID)\",\"type\":\"\(row["type"] as String)\"}".utf8)
            return DueDelivery(id: row["id"], endpointID: endpointID, url: row["url"], secret: String(decoding: secret, as: UTF8.self), eventID: eventID,
                               eventCreatedAt: Date(timeIntervalSince1970: created), body: body, attempts: row["attempts"])
        }
    }

    /// Records an attempt: delivered, or retried at `retryAt` (nil: given up). An endpoint failing
    /// since before `disableBefore` is disabled with `reason`.
    public func recordDelivery(id: String, endpointID: String, delivered: Bool, status: Int?, error: String?, retryAt: Date?,
                               disableBefore: Date) throws {
        try write { db in
            let now = Date().timeIntervalSince1970
            let state = delivered ? "delivered" : (retryAt == nil ? "failed" : "pending")
            try db.execute(sql: """
                UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?, last_at = ?, next_at = ? WHERE id = ?
                """, arguments: [state, status, error.map { String($0.prefix(500)) }, now, retryAt?.timeIntervalSince1970 ?? now, id])
            if delivered {
                try db.execute(sql: "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?", arguments: [endpointID])
            } else {
                try db.execute(sql: "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ?", arguments: [now, endpointID])
                try db.execute(sql: """
                    UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL AND failing_since < ?
                    """, arguments: [now, "every delivery failed since \(ISO8601DateFormatter().string(from: disableBefore)) or earlier", endpointID,
                                     disableBefore.timeIntervalSince1970])
            }
        }
    }

    public func deliveries(endpointID: String, limit: Int) throws -> [DeliveryRecord] {
        try read { db in
            try db.fetchAll(sql: """
                SELECT d.*, e.type AS type FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.endpoint_id = ? ORDER BY d.created_at DESC LIMIT ?
                """, arguments: [endpointID, limit]).map { row in
                DeliveryRecord(id: row["id"], eventID: row["event_id"], type: row["type"], status: row["status"], attempts: row["attempts"],
                               lastStatus: row["last_status"], lastError: row["last_error"],
                               lastAt: (row["last_at"] as Double?).map(Date.init(timeIntervalSince1970:)), nextAt: Date(timeIntervalSince1970: row["next_at"]))
            }
        }
    }

    /// Sessions that expired unfinished and were not yet announced: each gets its `session.expired`, once.
    public func announceExpiredSessions(now: Date = Date()) throws -> Int {
        try write { db in
            let rows = try db.fetchAll(sql: """
                SELECT * FROM sessions WHERE expiry_notified = 0 AND spent_at IS NULL AND revoked_at IS NULL AND attempts < max_attempts AND expires_at <= ?
                LIMIT 500
                """, arguments: [now.timeIntervalSince1970])
            for row in rows {
                let s = SessionRecord(row: row)
                try db.execute(sql: "UPDATE sessions SET expiry_notified = 1 WHERE id = ?", arguments: [s.id])
                try Self.emit([NewEvent(type: .sessionExpired, data: ["session_id": s.id, "subject_id": s.subjectID ?? "", "customer_ref": s.customerRef])],
                              tenant: s.tenantID, mode: s.mode, db)
            }
            return rows.count
        }
    }
}
