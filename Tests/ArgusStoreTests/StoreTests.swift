import ArgusStore
import Foundation
import Testing

/// The store's contract, on each backend (SQLite; PostgreSQL with `ARGUS_TEST_POSTGRES`): typed
/// errors, the one face write (idempotent, sealed, durable), sessions spent once.
@Suite("Store: each backend's contract")
struct StoreTests {
    static func temporary() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A random unit-length template (`seed` only tells calls apart).
    static func template(_ seed: Int) -> [Float] {
        let raw = (0..<128).map { _ in Float.random(in: -1...1) }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { $0 / norm }
    }

    @Test("a missing store without create is .missing and nothing is written")
    func missing() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: StoreError.missing(dir)) { try SQLiteStore(dataDirectory: dir, environment: [:], create: false) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("typed errors: unknown subject, duplicate external id, unknown session, foreign cursor", arguments: Backend.available)
    func typedErrors(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        _ = try store.createSubject(tenant: tenant, mode: .test, externalID: "alice")
        #expect {
            try store.createSubject(tenant: tenant, mode: .test, externalID: "alice")
        } throws: { error in
            if case StoreError.conflict = error { return true } else { return false }
        }
        #expect(throws: StoreError.notFound("subject")) {
            try store.writeFace(NewFace(subject: .id("sub_nobody"), template: Self.template(1), box: [0, 0, 1, 1], quality: .unmeasured,
                                        imageSHA256: "x"), tenant: tenant, mode: .test)
        }
        #expect(throws: StoreError.sessionUnknown) { try store.beginAttempt(sessionID: "ses_nobody") }
        // A live-mode subject is not a cursor for test mode.
        let live = try store.createSubject(tenant: tenant, mode: .live, externalID: nil)
        #expect {
            try store.subjects(tenant: tenant, mode: .test, limit: 10, after: live.id, externalID: nil)
        } throws: { error in
            if case StoreError.invalid = error { return true } else { return false }
        }
    }

    @Test("20 concurrent writes of one photo on one subject store one face; templates come back bit for bit and are sealed on disk", arguments: Backend.available)
    func oneFacePerPhoto(backend: Backend) async throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        let t = Self.template(7)
        let face = NewFace(subject: .external("bob", createIfMissing: true), template: t, box: [1, 2, 3, 4], quality: .unmeasured,
                           imageSHA256: "digest-1")
        let writes = try await withThrowingTaskGroup(of: FaceWrite.self) { group in
            for _ in 0..<20 { group.addTask { try store.writeFace(face, tenant: tenant, mode: .test) } }
            return try await group.reduce(into: [FaceWrite]()) { $0.append($1) }
        }
        #expect(writes.count == 20)
        #expect(writes.filter { !$0.alreadyEnrolled }.count == 1)
        #expect(Set(writes.map(\.faceID)).count == 1 && Set(writes.map(\.subjectID)).count == 1)
        var seen: [FaceTemplate] = []
        try store.forEachFace(tenant: tenant, mode: .test) { seen.append($0) }
        #expect(seen.count == 1)
        #expect(seen.first?.template == t && seen.first?.subjectID == writes.first?.subjectID && seen.first?.faceID == writes.first?.faceID)
        // Reopened (a new process would do this), the face is still there; on disk only sealed bytes.
        let again = try box.reopen()
        #expect(try again.enrolledFace(tenant: tenant, mode: .test, subject: .external("bob", createIfMissing: false), imageSHA256: "digest-1")?.faceID
                == writes[0].faceID)
        let raw = try box.storedBytes()
        let plain = t.withUnsafeBytes { Data($0) }
        #expect(raw.range(of: plain.prefix(32)) == nil)
    }

    @Test("a session spent with its face: two writes spending one session store one face", arguments: Backend.available)
    func spendingWrite(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        let subject = try store.createSubject(tenant: tenant, mode: .test, externalID: nil)
        let key = try store.createCredential(tenant: tenant, mode: .test, kind: .secret, scopes: [])
        try store.createSession(NewSession(id: "ses_1", tenant: tenant, mode: .test, credential: key.credential.id, purpose: .enroll,
                                           subject: subject.id, customerRef: "c", expiresAt: Date().addingTimeInterval(60), maxAttempts: 3))
        let first = try store.writeFace(NewFace(subject: .id(subject.id), template: Self.template(1), box: [0, 0, 1, 1], quality: .unmeasured,
                                                imageSHA256: "a"), tenant: tenant, mode: .test, spending: "ses_1")
        #expect(!first.alreadyEnrolled)
        #expect {
            try store.writeFace(NewFace(subject: .id(subject.id), template: Self.template(2), box: [0, 0, 1, 1], quality: .unmeasured,
                                        imageSHA256: "b"), tenant: tenant, mode: .test, spending: "ses_1")
        } throws: { error in
            if case StoreError.sessionSpent = error { return true } else { return false }
        }
        #expect(try store.subject(tenant: tenant, mode: .test, id: subject.id)?.faceIDs == [first.faceID])
    }

    @Test("an attempt shed before analysis is given back and leaves no row; the others count, and past the last none is claimed", arguments: Backend.available)
    func refundedAttempt(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        let subject = try store.createSubject(tenant: tenant, mode: .test, externalID: nil)
        let key = try store.createCredential(tenant: tenant, mode: .test, kind: .secret, scopes: [])
        try store.createSession(NewSession(id: "ses_r", tenant: tenant, mode: .test, credential: key.credential.id, purpose: .verify,
                                           subject: subject.id, customerRef: "c", expiresAt: Date().addingTimeInterval(60), maxAttempts: 2))
        for _ in 0..<5 {
            _ = try store.beginAttempt(sessionID: "ses_r")
            try store.refundAttempt(sessionID: "ses_r")
        }
        _ = try store.beginAttempt(sessionID: "ses_r")
        try store.recordAttempt(sessionID: "ses_r", score: 0.1, threshold: 0.5, match: false, outcome: "no_match", spending: false)
        _ = try store.beginAttempt(sessionID: "ses_r")
        try store.recordAttempt(sessionID: "ses_r", score: 0.1, threshold: 0.5, match: false, outcome: "no_match", spending: false)
        #expect(throws: StoreError.sessionSpent("This session has no attempts left")) { try store.beginAttempt(sessionID: "ses_r") }
        let outcomes = try store.attempts(sessionID: "ses_r").map(\.outcome)
        #expect(outcomes == ["no_match", "no_match"])
    }
}

@Suite("Store: the webhook outbox")
struct OutboxTests {
    @Test("events are written with a delivery per subscribed endpoint; a delivery that keeps failing disables its endpoint with a reason", arguments: Backend.available)
    func outbox(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        let (endpoint, secret) = try store.createWebhookEndpoint(tenant: tenant, mode: .test, url: "https://example.com/h", events: [.subjectDeleted])
        #expect(secret.hasPrefix("whsec_"))
        _ = try store.createWebhookEndpoint(tenant: tenant, mode: .live, url: "https://example.com/l", events: [.subjectDeleted])
        let subject = try store.createSubject(tenant: tenant, mode: .test, externalID: "x")
        #expect(try store.deleteSubject(tenant: tenant, mode: .test, id: subject.id) != nil)
        // One delivery, to the test-mode endpoint only, signed with its own secret.
        let due = try store.dueDeliveries(limit: 10, now: Date())
        #expect(due.count == 1 && due.first?.endpointID == endpoint.id && due.first?.secret == secret)
        let body = try #require(due.first.map { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] } ?? nil)
        #expect(body["type"] as? String == "subject.deleted" && (body["data"] as? [String: Any])?["subject_id"] as? String == subject.id)
        // Failing since before the disable horizon: disabled, with its reason; nothing more is due.
        let d = try #require(due.first)
        try store.recordDelivery(id: d.id, endpointID: d.endpointID, delivered: false, status: 500, error: "HTTP 500", retryAt: Date(),
                                 disableBefore: Date().addingTimeInterval(3600))
        let after = try #require(try store.webhookEndpoint(tenant: tenant, mode: .test, id: endpoint.id))
        #expect(after.disabledAt != nil && after.disabledReason?.contains("every delivery failed") == true)
        #expect(try store.dueDeliveries(limit: 10, now: Date().addingTimeInterval(10)).isEmpty)
        #expect(try store.deliveries(endpointID: endpoint.id, limit: 10).first?.lastStatus == 500)
    }
}
