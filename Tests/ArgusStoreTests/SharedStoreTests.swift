import ArgusStore
import Foundation
import Testing

/// What must hold when several processes (nodes) share one store: each test opens the store twice,
/// as two nodes would, and races them.
@Suite("Store: two handles on one store (the nodes' view)")
struct SharedStoreTests {
    static func session(_ store: any Store, id: String, maxAttempts: Int, purpose: SessionRecord.Purpose = .verify) throws -> String {
        let tenant = store.defaultTenantID
        let subject = try store.createSubject(tenant: tenant, mode: .test, externalID: nil)
        let key = try store.createCredential(tenant: tenant, mode: .test, kind: .secret, scopes: [])
        try store.createSession(NewSession(id: id, tenant: tenant, mode: .test, credential: key.credential.id, purpose: purpose,
                                           subject: subject.id, customerRef: "c", expiresAt: Date().addingTimeInterval(60), maxAttempts: maxAttempts))
        return subject.id
    }

    @Test("20 concurrent attempts on a 3-attempt session through two handles: exactly 3 are claimed", arguments: Backend.available)
    func attemptsClaimedOnce(backend: Backend) async throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let a = box.store, b = try box.reopen()
        _ = try Self.session(a, id: "ses_attempts", maxAttempts: 3)
        let claimed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                let store = i % 2 == 0 ? a : b
                group.addTask {
                    do { _ = try store.beginAttempt(sessionID: "ses_attempts"); return true } catch StoreError.sessionSpent { return false }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(claimed == 3)
        #expect(try b.session(id: "ses_attempts")?.attempts == 3)
    }

    @Test("20 concurrent successes of one session through two handles: it is spent once", arguments: Backend.available)
    func spentOnce(backend: Backend) async throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let a = box.store, b = try box.reopen()
        _ = try Self.session(a, id: "ses_spend", maxAttempts: 20)
        let spent = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                let store = i % 2 == 0 ? a : b
                group.addTask {
                    // Once it is spent, a claim is refused too: either way, not spent again.
                    do {
                        _ = try store.beginAttempt(sessionID: "ses_spend")
                        return try store.recordAttempt(sessionID: "ses_spend", score: 0.99, threshold: 0.9, match: true, outcome: "match", spending: true)
                    } catch StoreError.sessionSpent { return false }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(spent == 1)
        #expect(try a.session(id: "ses_spend")?.spentAt != nil)
        #expect(try a.attempts(sessionID: "ses_spend").filter { $0.outcome == "match" }.count == 1)
    }

    @Test("a key rolled on one handle and revoked on the other: the old one is refused everywhere, the roll happens once", arguments: Backend.available)
    func rollAndRevoke(backend: Backend) async throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let a = box.store, b = try box.reopen()
        let key = try a.createCredential(tenant: a.defaultTenantID, mode: .live, kind: .secret, scopes: [])
        // Ten concurrent rolls of one key: one succeeds, the others find it already rolled.
        let rolls = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<10 {
                let store = i % 2 == 0 ? a : b
                group.addTask { (try? store.roll(credentialID: key.credential.id, overlap: 0, now: Date())) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(rolls == 1)
        let all = try a.credentials(tenant: a.defaultTenantID, mode: .live)
        #expect(all.count == 2)
        let successor = try #require(all.first { $0.id != key.credential.id })
        #expect(try b.revoke(credentialID: successor.id))
        #expect(try a.credential(id: successor.id)?.revokedAt != nil)
        #expect(try !a.revoke(credentialID: successor.id))
    }

    @Test("faces written and removed through one handle are read back by the other, in bulk and one by one", arguments: Backend.available)
    func facesAcrossHandles(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let a = box.store, b = try box.reopen()
        let tenant = a.defaultTenantID
        var written: [String: [Float]] = [:]
        for i in 0..<300 {
            let t = StoreTests.template(i)
            let w = try a.writeFace(NewFace(subject: .external("s\(i % 50)", createIfMissing: true), template: t, box: [0, 0, 1, 1],
                                            quality: .unmeasured, imageSHA256: "img\(i)"), tenant: tenant, mode: .test)
            written[w.faceID] = t
        }
        var seen: [String: [Float]] = [:]
        var batches = 0
        try b.forEachFaceBatch(tenant: tenant, mode: .test, batch: 64, digests: true) { batch in
            batches += 1
            for i in 0..<batch.count { seen[batch.faceIDs[i]] = Array(batch.template(i)) }
        }
        #expect(batches == 5)
        #expect(seen == written)
        #expect(try b.faceCounts().reduce(0) { $0 + $1.faces } == 300)
        let s7 = try #require(try b.subjects(tenant: tenant, mode: .test, limit: 1, after: nil, externalID: "s7").subjects.first)
        let gone = try #require(try a.deleteSubject(tenant: tenant, mode: .test, id: s7.id))
        #expect(gone.count == 6)
        #expect(try b.faceCounts().reduce(0) { $0 + $1.faces } == 294)
    }
}

/// One write of many faces (batch enrolment, bench seed): subjects old and new, photos stored before.
@Suite("Store: a batch of faces")
struct FaceBatchWriteTests {
    @Test("a batch mixing existing and new subjects, photos already stored and repeated, writes each face once", arguments: Backend.available)
    func mixed(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let store = box.store
        let tenant = store.defaultTenantID
        func face(_ subject: String, _ photo: String, _ seed: Int) -> NewFace {
            NewFace(subject: .external(subject, createIfMissing: true), template: StoreTests.template(seed), box: [0, 0, 1, 1],
                    quality: .unmeasured, imageSHA256: photo)
        }
        let first = try store.writeFaces([face("alice", "a1", 1), face("bob", "b1", 2)], tenant: tenant, mode: .test, spending: nil)
        #expect(first.count == 2 && first.allSatisfy { !$0.alreadyEnrolled })
        // Existing subjects before new ones, a stored photo, and one photo twice in the batch.
        let batch = [face("alice", "a2", 3), face("carol", "c1", 4), face("bob", "b1", 5), face("dave", "d1", 6), face("dave", "d1", 7),
                     face("alice", "a3", 8)]
        let written = try store.writeFaces(batch, tenant: tenant, mode: .test, spending: nil)
        #expect(written.count == batch.count)
        #expect(written.map(\.alreadyEnrolled) == [false, false, true, false, true, false])
        #expect(written[2].faceID == first[1].faceID && written[4].faceID == written[3].faceID)
        #expect(written[0].subjectID == first[0].subjectID && written[5].subjectID == first[0].subjectID)
        #expect(try store.faceCounts().reduce(0) { $0 + $1.faces } == 6)
        let alice = try #require(try store.subject(tenant: tenant, mode: .test, id: first[0].subjectID))
        #expect(alice.faceIDs.count == 3)
    }
}

/// A process started with the wrong master key.
@Suite("Store: the master key")
struct MasterKeyTests {
    @Test("a store opened with another master key is refused at once, and nothing is sealed under that key", arguments: Backend.available)
    func wrongKey(backend: Backend) throws {
        let box = try TestStore(backend)
        defer { box.close() }
        let before = try box.store.signingKeys().count
        let other = ["ARGUS_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()]
        #expect {
            switch backend {
            case .sqlite: _ = try SQLiteStore(dataDirectory: box.location, environment: other, create: false)
            case .postgres: _ = try PostgresStore(url: box.location, environment: other, connections: 1)
            }
        } throws: { error in
            if case StoreError.sealed(let why) = error { return why.contains("master key") } else { return false }
        }
        // Reopened with the right key, it works, and no key sealed by the refused process is in it.
        let again = try box.reopen()
        #expect(try again.signingKeys().count == before)
        #expect(try again.tenant(id: again.defaultTenantID) != nil)
    }
}

/// Rate limits that hold across nodes.
@Suite("Store: rate limits decided by the store")
struct SharedRateLimitTests {
    @Test("40 concurrent requests of one credential through two handles, burst 5, no refill: 5 pass; a second later, one more",
          .enabled(if: Backend.postgresAdmin != nil))
    func bucket() async throws {
        let box = try TestStore(.postgres)
        defer { box.close() }
        let a = box.store, b = try box.reopen()
        let now = Date().timeIntervalSince1970
        let passed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<40 {
                let store = i % 2 == 0 ? a : b
                group.addTask { try #require(try store.takeRateToken(key: "key_x", rate: 1, burst: 5, now: now)) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(passed == 5)
        #expect(try b.takeRateToken(key: "key_x", rate: 1, burst: 5, now: now + 1.01) == true)
        #expect(try a.takeRateToken(key: "key_x", rate: 1, burst: 5, now: now + 1.02) == false)
        #expect(try a.takeRateToken(key: "key_other", rate: 1, burst: 5, now: now) == true)
    }
}

/// PostgreSQL's face log, as nodes follow it.
@Suite("Store: PostgreSQL's face log")
struct FaceLogTests {
    @Test("the log gives every addition and removal after a position, in order, once", .enabled(if: Backend.postgresAdmin != nil))
    func followed() throws {
        let box = try TestStore(.postgres)
        defer { box.close() }
        let a = try #require(box.store as? PostgresStore), b = try #require(try box.reopen() as? PostgresStore)
        let tenant = a.defaultTenantID
        let start = try b.faceLogPosition()
        var ids: [String] = []
        for i in 0..<10 {
            ids.append(try a.writeFace(NewFace(subject: .external("p\(i)", createIfMissing: true), template: StoreTests.template(i), box: [0, 0, 1, 1],
                                               quality: .unmeasured, imageSHA256: "f\(i)"), tenant: tenant, mode: .test).faceID)
        }
        let third = try #require(try a.enrolledFace(tenant: tenant, mode: .test, subject: .external("p3", createIfMissing: false), imageSHA256: "f3"))
        #expect(try a.deleteFace(tenant: tenant, mode: .test, subject: third.subjectID, face: ids[3]))
        let changes = try b.faceChanges(after: start)
        #expect(changes.count == 11)
        #expect(changes.map(\.position) == changes.map(\.position).sorted())
        #expect(changes.prefix(10).map(\.faceID) == ids && changes.prefix(10).allSatisfy(\.added))
        // The face removed since its addition comes without a template; its removal is the last entry.
        #expect(changes[3].template == nil && changes[0].template != nil)
        #expect(changes.last?.faceID == ids[3] && changes.last?.added == false)
        #expect(try b.faceChanges(after: try #require(changes.last).position).isEmpty)
    }
}
