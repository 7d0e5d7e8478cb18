import ArgusFace
import ArgusImaging
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import ArgusStore
@testable import ArgusService

/// One regression test per finding of the security review (issue 9), over HTTP where the finding
/// is an HTTP behaviour. Each fails on the code before the fix.
@Suite("ABIS service: security regressions", .serialized)
struct SecurityRegressionTests {
    static func subject(_ client: some TestClientProtocol, _ key: String) async throws -> String {
        let r = try await client.call(.post, "/v1/subjects", auth: key, json: [:])
        #expect(r.status == .created)
        return try #require(r.json["id"] as? String)
    }

    static func enrol(_ client: some TestClientProtocol, _ key: String, _ subject: String, _ photo: String) async throws {
        let r = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: try ServiceHarness.photo(photo), contentType: "image/jpeg")
        #expect(r.status == .created, "\(r.json)")
    }

    static func key(_ client: some TestClientProtocol, _ auth: String, _ body: [String: Any]) async throws -> (id: String, key: String) {
        let r = try await client.call(.post, "/v1/keys", auth: auth, json: body)
        #expect(r.status == .created, "\(r.json)")
        return (try #require(r.json["id"] as? String), try #require(r.json["key"] as? String))
    }

    static func session(_ client: some TestClientProtocol, _ auth: String, purpose: String, subject: String) async throws -> (id: String, token: String) {
        let r = try await client.call(.post, "/v1/sessions", auth: auth, json: ["customer_ref": "c", "purpose": purpose, "subject_id": subject])
        #expect(r.status == .created, "\(r.json)")
        return (try #require(r.json["id"] as? String), try #require(r.json["token"] as? String))
    }

    @Test("1. a restricted key with keys:manage cannot roll, revoke or see a secret key or a broader key")
    func keyEscalation() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let skID = try #require(try await client.call(.get, "/v1/ping", auth: sk).json["credential"] as? String)
            let manager = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["keys:manage", "subjects:read"]])
            let broader = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["keys:manage", "subjects:read", "identify"]])
            let narrower = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["subjects:read"]])

            let roll = try await client.call(.post, "/v1/keys/\(skID)/roll", auth: manager.key, json: ["expires_in": 0])
            #expect(roll.status == .forbidden && roll.errorCode == "insufficient_scope", "\(roll.json)")
            #expect(roll.json["key"] == nil)
            let revoke = try await client.call(.delete, "/v1/keys/\(skID)", auth: manager.key)
            #expect(revoke.status == .forbidden && revoke.errorCode == "insufficient_scope")
            let rollBroader = try await client.call(.post, "/v1/keys/\(broader.id)/roll", auth: manager.key, json: [:])
            #expect(rollBroader.status == .forbidden && rollBroader.errorCode == "insufficient_scope")
            #expect(try await client.call(.delete, "/v1/keys/\(broader.id)", auth: manager.key).errorCode == "insufficient_scope")
            let mint = try await client.call(.post, "/v1/keys", auth: manager.key, json: ["kind": "secret"])
            #expect(mint.status == .forbidden && mint.errorCode == "insufficient_scope")
            // What it may hold, it may manage.
            let rollNarrow = try await client.call(.post, "/v1/keys/\(narrower.id)/roll", auth: manager.key, json: [:])
            #expect(rollNarrow.status == .created && (rollNarrow.json["key"] as? String)?.hasPrefix("rk_test_") == true)
            // It sees only what it could have created.
            let list = try await client.call(.get, "/v1/keys", auth: manager.key)
            #expect(list.status == .ok)
            let ids = try #require(list.json["data"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            #expect(!ids.isEmpty && !ids.contains(skID) && !ids.contains(broader.id) && ids.contains(manager.id))
            // The owner's secret key still works, and a secret key may roll itself.
            #expect(try await client.call(.get, "/v1/ping", auth: sk).status == .ok)
            let selfRoll = try await client.call(.post, "/v1/keys/\(skID)/roll", auth: sk, json: ["expires_in": 60])
            #expect(selfRoll.status == .created && (selfRoll.json["key"] as? String)?.hasPrefix("sk_test_") == true)
            // The audit names both keys of a roll.
            let rows = try runtime.store.auditRows().filter { $0["operation"] == "keys.roll" }
            #expect(rows.contains { $0["target_id"] == skID && $0["outcome"] == "rolled_to:\(selfRoll.json["id"] as? String ?? "?")" })
        }
    }

    @Test("1b. rolls of revoked or expired keys are refused; expires_in is typed")
    func rollRules() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let a = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["subjects:read"]])
            #expect(try await client.call(.post, "/v1/keys/\(a.id)/roll", auth: sk, json: ["expires_in": "abc"]).errorCode == "invalid_request")
            #expect(try await client.call(.post, "/v1/keys/\(a.id)/roll", auth: sk, json: ["expires_in": -5]).errorCode == "invalid_request")
            #expect(try await client.call(.post, "/v1/keys/\(a.id)/roll", auth: sk, json: ["expires_in": 99_999_999]).errorCode == "invalid_request")
            #expect(try await client.call(.delete, "/v1/keys/\(a.id)", auth: sk).status == .ok)
            let revoked = try await client.call(.post, "/v1/keys/\(a.id)/roll", auth: sk, json: [:])
            #expect(revoked.status == .badRequest && revoked.errorCode == "invalid_request" && revoked.json["key"] == nil)
            let b = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["subjects:read"]])
            #expect(try await client.call(.post, "/v1/keys/\(b.id)/roll", auth: sk, json: ["expires_in": 0]).status == .created)
            // b stopped at once; rolling it again (it is expired) is refused.
            #expect(try await client.call(.get, "/v1/ping", auth: b.key).errorCode == "expired_credentials")
            let expired = try await client.call(.post, "/v1/keys/\(b.id)/roll", auth: sk, json: [:])
            #expect(expired.status == .badRequest && expired.errorCode == "invalid_request")
        }
    }

    @Test("2. a session token cannot choose the threshold (or anything else that decides its outcome)", .enabled(if: ServiceHarness.hasFaces))
    func sessionThreshold() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            try await Self.enrol(client, sk, subject, "Hugo_Chavez/0001.jpg")
            let impostor = try ServiceHarness.photo("Tom_Ridge/0001.jpg").base64EncodedString()
            let s = try await Self.session(client, sk, purpose: "verify", subject: subject)
            let forced = try await client.call(.post, "/v1/verify", auth: s.token, json: ["subject_id": subject, "image": impostor, "threshold": -0.99])
            #expect(forced.status == .badRequest && forced.errorCode == "invalid_request", "\(forced.json)")
            #expect(forced.json["match"] == nil)
            // The refusal cost no attempt and spent nothing; the honest call says no match.
            let honest = try await client.call(.post, "/v1/verify", auth: s.token, json: ["subject_id": subject, "image": impostor])
            #expect(honest.status == .ok && honest.json["match"] as? Bool == false && abs((honest.json["threshold"] as? Double ?? 0) - Double(MatchThresholds.verification)) < 1e-6)
            let record = try #require(try runtime.store.session(id: s.id))
            #expect(record.spentAt == nil && record.attempts == 1)
            #expect(!(try runtime.store.auditRows().contains { $0["operation"] == "verify" && $0["outcome"] == "match" }))
            // An enrolment token cannot pick the gallery or ask for dedup.
            let e = try await Self.session(client, sk, purpose: "enroll", subject: subject)
            let photo = try ServiceHarness.photo("Hugo_Chavez/0003.jpg")
            for query in ["?gallery=vip", "?dedup=true"] {
                let r = try await client.call(.post, "/v1/subjects/\(subject)/faces\(query)", auth: e.token, body: photo, contentType: "image/jpeg")
                #expect(r.status == .badRequest && r.errorCode == "invalid_request", "\(query): \(r.json)")
            }
            let json = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: e.token,
                                             json: ["image": photo.base64EncodedString(), "gallery": "vip"])
            #expect(json.status == .badRequest && json.errorCode == "invalid_request")
        }
    }

    @Test("3. multipart bodies are parsed in linear time with bounded boundary and part count")
    func multipartDoS() async throws {
        // How long these take is asserted in TimingTests (run alone); here, what they answer.
        let (hostile, boundary) = Self.emptyParts()
        #expect(throws: MultipartForm.Failure.self) { try MultipartForm(body: hostile, boundary: boundary) }
        let hostileBody = Data(hostile)
        // A boundary longer than RFC 2046 allows is refused before any scan.
        #expect(throws: MultipartForm.Failure.badBoundary) {
            try MultipartForm.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 4_000))
        }
        let (body, long) = Self.boundarySearchWorstCase()
        #expect(throws: MultipartForm.Failure.self) { try MultipartForm(body: body, boundary: long) }
        // A well-formed form still parses: fields and the file.
        let ok = Array("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"gallery\"\r\n\r\nvip\r\n--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{1}\u{2}\u{3}\r\n--XyZ--\r\n".utf8)
        let form = try MultipartForm(body: ok, boundary: "XyZ")
        #expect(form.file == [1, 2, 3] && form.fields["gallery"] == "vip")

        // Over HTTP: the hostile body is a quick 400, the server answers the next request.
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            let r = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: sk, body: hostileBody,
                                          contentType: "multipart/form-data; boundary=\(boundary)")
            #expect(r.status == .badRequest && r.errorCode == "invalid_request")
            let big = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: sk, body: Data(ok),
                                            contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 4_000))
            #expect(big.status == .badRequest && big.errorCode == "invalid_request")
            #expect(try await client.call(.get, "/healthz").status == .ok)
        }
    }

    /// 12 MB of 2.4 M empty parts (refused after 32 parts), and its boundary.
    static func emptyParts() -> (body: [UInt8], boundary: String) {
        let boundary = "b"
        var hostile = [UInt8]()
        hostile.reserveCapacity(12 << 20)
        let part = Array("--\(boundary)\r\n".utf8)
        while hostile.count + part.count < 12 << 20 { hostile += part }
        return (hostile, boundary)
    }

    /// Worst case for a naive search: a 70-character boundary of 'a's over 12 MB of 'a's.
    static func boundarySearchWorstCase() -> (body: [UInt8], boundary: String) {
        let long = String(repeating: "a", count: 70)
        return (Array("--\(long)\r\nContent-Type: image/jpeg\r\n\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 12 << 20), long)
    }

    /// A 640x480 progressive JPEG with one scan per coefficient (hundreds of scans).
    static func manyScansJPEG() throws -> [UInt8] {
        let image = RGBImage(width: 640, height: 480, pixels: (0..<(640 * 480 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) })
        return try ImageEncoder.jpeg(samples: image.pixels, width: 640, height: 480, components: 3, oneScanPerCoefficient: true)
    }

    @Test("4. one session token succeeds exactly once under 20 concurrent requests (verify and enrol)", .enabled(if: ServiceHarness.hasFaces))
    func sessionRaces() async throws {
        // Enough attempts that all 20 race past the attempt counter: only spending decides. The
        // queue's deadline is not what is tested: 20 analyses queued on two cores beside the rest of
        // the suite may wait past the default 10 s, and would be answered 503 instead.
        try await ServiceHarness.withService(tweak: { $0.sessionMaxAttempts = 25; $0.analysisQueueLimit = 64; $0.analysisDeadlineMilliseconds = 120_000 }) { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            try await Self.enrol(client, sk, subject, "Hugo_Chavez/0001.jpg")
            let probe = try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()
            for trial in 0..<2 {
                let s = try await Self.session(client, sk, purpose: "verify", subject: subject)
                let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                    for _ in 0..<20 { group.addTask { try await client.call(.post, "/v1/verify", auth: s.token, json: ["subject_id": subject, "image": probe]) } }
                    return try await group.reduce(into: [Reply]()) { $0.append($1) }
                }
                #expect(replies.count == 20)
                let successes = replies.filter { $0.status == .ok && $0.json["match"] as? Bool == true }
                #expect(successes.count == 1, "trial \(trial): \(successes.count) successes")
                let refusals = replies.filter { $0.status != .ok }
                #expect(refusals.count == 19 && refusals.allSatisfy { $0.errorCode == "session_spent" },
                        "trial \(trial): \(refusals.map { $0.errorCode ?? "\($0.status.code)" })")
            }
            let photos = ["Hugo_Chavez/0003.jpg", "Hugo_Chavez/0004.jpg", "Hugo_Chavez/0005.jpg", "Hugo_Chavez/0006.jpg"]
            let e = try await Self.session(client, sk, purpose: "enroll", subject: subject)
            let bodies = try photos.map { try ServiceHarness.photo($0) }
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for i in 0..<20 {
                    group.addTask { try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: e.token, body: bodies[i % bodies.count], contentType: "image/jpeg") }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.count == 20)
            #expect(replies.filter { $0.status == .created }.count == 1)
            let faces = try #require(try runtime.store.subject(tenant: runtime.store.defaultTenantID, mode: .test, id: subject)).faceIDs
            #expect(faces.count == 2, "one face before, exactly one by the session")
        }
    }

    @Test("5. sessions:create mints only purposes its holder could perform itself")
    func sessionMinting() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            let minter = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["sessions:create"]])
            for purpose in ["verify", "enroll"] {
                let r = try await client.call(.post, "/v1/sessions", auth: minter.key, json: ["customer_ref": "c", "purpose": purpose, "subject_id": subject])
                #expect(r.status == .forbidden && r.errorCode == "insufficient_scope" && r.json["token"] == nil, "\(purpose)")
            }
            let verifier = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["sessions:create", "verify"]])
            _ = try await Self.session(client, verifier.key, purpose: "verify", subject: subject)
            let enrol = try await client.call(.post, "/v1/sessions", auth: verifier.key, json: ["customer_ref": "c", "purpose": "enroll", "subject_id": subject])
            #expect(enrol.status == .forbidden && enrol.errorCode == "insufficient_scope")
            // Nor revoke sessions it could not have minted.
            let other = try await Self.session(client, sk, purpose: "enroll", subject: subject)
            #expect(try await client.call(.delete, "/v1/sessions/\(other.id)", auth: verifier.key).errorCode == "insufficient_scope")
        }
    }

    @Test("6. dedup on enrolment needs the identify scope, and is refused to enrolment tokens", .enabled(if: ServiceHarness.hasFaces))
    func dedupScope() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let a = try await Self.subject(client, sk)
            try await Self.enrol(client, sk, a, "Hugo_Chavez/0001.jpg")
            let writer = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["subjects:write"]])
            let b = try await Self.subject(client, sk)
            let photo = try ServiceHarness.photo("Hugo_Chavez/0002.jpg")
            let r = try await client.call(.post, "/v1/subjects/\(b)/faces?dedup=true", auth: writer.key, body: photo, contentType: "image/jpeg")
            #expect(r.status == .forbidden && r.errorCode == "insufficient_scope" && r.json["duplicates"] == nil)
            #expect(try runtime.store.subject(tenant: runtime.store.defaultTenantID, mode: .test, id: b)?.faceIDs.isEmpty == true)
            let full = try await client.call(.post, "/v1/subjects/\(b)/faces?dedup=true", auth: sk, body: photo, contentType: "image/jpeg")
            #expect(full.status == .created)
            let dups = try #require(full.json["duplicates"] as? [[String: Any]])
            #expect(dups.first?["subject_id"] as? String == a)
        }
    }

    @Test("7. gallery names never grow the registry: unknown is 404, bad names 400", .enabled(if: ServiceHarness.hasFaces))
    func galleryNames() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let a = try await Self.subject(client, sk)
            try await Self.enrol(client, sk, a, "Hugo_Chavez/0001.jpg")
            let probe = try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()
            let unknown = try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "gallery": "nobody"])
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
            let huge = try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "gallery": String(repeating: "g", count: 5 << 20)])
            #expect(huge.status == .badRequest && huge.errorCode == "invalid_request")
            let names = runtime.galleries.index(tenant: runtime.store.defaultTenantID, mode: .test).partitions
            #expect(names.count == 1 && names.first?.name == "default")
            let listed = try await client.call(.get, "/v1/galleries", auth: sk)
            #expect(listed.status == .ok && (listed.json["data"] as? [[String: Any]])?.count == 1)
            let known = try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "gallery": "default"])
            #expect(known.status == .ok && (known.json["candidates"] as? [[String: Any]])?.first?["subject_id"] as? String == a)
        }
    }

    @Test("8. revoking or rolling away a key ends the sessions it minted; spent tokens authenticate nowhere", .enabled(if: ServiceHarness.hasFaces))
    func sessionsFollowTheirKey() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            let minter = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["sessions:create", "verify"]])
            let s = try await Self.session(client, minter.key, purpose: "verify", subject: subject)
            #expect(try await client.call(.get, "/v1/ping", auth: s.token).status == .ok)
            #expect(try await client.call(.delete, "/v1/keys/\(minter.id)", auth: sk).status == .ok)
            let after = try await client.call(.get, "/v1/ping", auth: s.token)
            #expect(after.status == .unauthorized && after.errorCode == "revoked_credentials")
            #expect(try runtime.store.session(id: s.id)?.revokedAt != nil)
            // A roll that ends the key at once ends its sessions too.
            let second = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["sessions:create", "verify"]])
            let s2 = try await Self.session(client, second.key, purpose: "verify", subject: subject)
            #expect(try await client.call(.post, "/v1/keys/\(second.id)/roll", auth: sk, json: ["expires_in": 0]).status == .created)
            #expect(try await client.call(.get, "/v1/ping", auth: s2.token).errorCode == "revoked_credentials")
            // A spent token answers nowhere, /v1/ping included.
            try await Self.enrol(client, sk, subject, "Hugo_Chavez/0001.jpg")
            let s3 = try await Self.session(client, sk, purpose: "verify", subject: subject)
            let probe = try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()
            #expect(try await client.call(.post, "/v1/verify", auth: s3.token, json: ["subject_id": subject, "image": probe]).json["match"] as? Bool == true)
            let ping = try await client.call(.get, "/v1/ping", auth: s3.token)
            #expect(ping.status == .forbidden && ping.errorCode == "session_spent")
        }
    }

    @Test("9. a progressive JPEG with too many scans is refused quickly; ordinary progressive JPEGs decode")
    func jpegScans() throws {
        // How long the refusal takes is asserted in TimingTests (run alone).
        let image = RGBImage(width: 640, height: 480, pixels: (0..<(640 * 480 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) })
        #expect(throws: ImagingError.self) { try ImageDecoder().decode(try Self.manyScansJPEG()) }
        let ordinary = try ImageEncoder.jpeg(image, progressive: true)
        #expect(try ImageDecoder().decode(ordinary).width == 640)
    }

    @Test("10. the API's pixel budget is below the CLI's and decodes run only on the analysis threads")
    func decodeBudget() async throws {
        // 6000 x 6000 = 36 MP: inside the CLI's 40 MP, outside the API's 25 MP; refused from the header.
        let width = 6_000
        let png = try ImageEncoder.png(rows: [UInt8](repeating: 128, count: width * width), width: width, height: width, colorType: .gray, bitDepth: 8)
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            #expect(runtime.faces.executor.threads == ProcessInfo.processInfo.activeProcessorCount)
            let subject = try await Self.subject(client, sk)
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<8 { group.addTask { try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: sk, body: Data(png), contentType: "image/png") } }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.count == 8)
            #expect(replies.allSatisfy { $0.status == .unprocessableContent && $0.errorCode == "invalid_image" })
        }
    }

    @Test("13. an over-cap chunked body is 413 payload_too_large, not 500")
    func chunkedOverCap() async throws {
        try await ServiceHarness.withService(tweak: { $0.maxBodyBytes = 1 << 16 }) { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try await Self.subject(client, sk)
            let port = try #require(client.port)
            var request = "POST /v1/subjects/\(subject)/faces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(sk)\r\n"
            request += "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            var bytes = Array(request.utf8)
            let chunk = [UInt8](repeating: 0xFF, count: 16 << 10)
            for _ in 0..<5 { bytes += Array("4000\r\n".utf8) + chunk + Array("\r\n".utf8) }
            bytes += Array("0\r\n\r\n".utf8)
            // The server may answer and close before it has read the rest; a reset can then eat the
            // answer on our side, so a few tries are allowed (each is the same over-cap request).
            var answer = ""
            for _ in 0..<5 where !answer.hasPrefix("HTTP/1.1") { answer = try RawHTTP.exchange(port: port, bytes) }
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(200))")
            #expect(answer.contains("payload_too_large"))
        }
    }

    @Test("14. ids of the other mode answer exactly like unknown ids")
    func crossModeOracles() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let live = try runtime.store.createCredential(tenant: runtime.store.defaultTenantID, mode: .live, kind: .secret, scopes: [])
            let liveSubject = try await Self.subject(client, live.secret)
            for path in ["/v1/keys/\(live.credential.id)", "/v1/keys/key_doesnotexist"] {
                let r = try await client.call(.delete, path, auth: sk)
                #expect(r.status == .notFound && r.errorCode == "not_found", "\(path): \(r.json)")
            }
            let roll = try await client.call(.post, "/v1/keys/\(live.credential.id)/roll", auth: sk, json: [:])
            #expect(roll.status == .notFound && roll.errorCode == "not_found")
            _ = try await Self.subject(client, sk)
            let cross = try await client.call(.get, "/v1/subjects?starting_after=\(liveSubject)", auth: sk)
            let unknown = try await client.call(.get, "/v1/subjects?starting_after=sub_doesnotexist", auth: sk)
            #expect(cross.status == .badRequest && cross.errorCode == unknown.errorCode && unknown.status == .badRequest)
        }
    }

    @Test("15. /metrics needs a secret key and shows only the caller's own template count")
    func metrics() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            #expect(try await client.call(.get, "/metrics").status == .unauthorized)
            let rk = try await Self.key(client, sk, ["kind": "restricted", "scopes": ["subjects:read"]])
            #expect(try await client.call(.get, "/metrics", auth: rk.key).errorCode == "insufficient_scope")
            // Another tenant's templates never show.
            try runtime.galleries.index(tenant: "ten_other", mode: .test)
                .add(face: "face_other", subject: "sub_other", template: [Float](repeating: 0.0883883476, count: 128))
            let text = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(sk)"]) { response in
                (response.status, String(buffer: response.body))
            }
            #expect(text.0 == .ok && text.1.contains("argus_templates 0\n"))
        }
    }

    @Test("failed authentications are rate limited per client address")
    func authFailures() async throws {
        try await ServiceHarness.withService(tweak: { $0.authFailureBurst = 10; $0.authFailuresPerSecond = 0.1 }) { runtime, client in
            let sk = try #require(runtime.firstKey)
            var codes: [String] = []
            for i in 0..<15 { codes.append(try await client.call(.get, "/v1/ping", auth: "sk_test_guess\(i)").errorCode ?? "none") }
            #expect(codes.prefix(10).allSatisfy { $0 == "invalid_credentials" } && codes.count == 15)
            #expect(codes.suffix(5).allSatisfy { $0 == "rate_limited" })
            // The address is cooled down: even a good key waits (guessing must not pay off).
            let blocked = try await client.call(.get, "/v1/ping", auth: sk)
            #expect(blocked.status == .tooManyRequests && blocked.headers[.retryAfter] != nil)
            // Refusals were audited (the 429s are not: a flood must not cost a write each).
            let refused = try runtime.store.auditRows().filter { $0["outcome"] == "invalid_credentials" }
            #expect(refused.count == 10)
        }
    }

    @Test("identify: thresholds outside (-1, 1) are refused; no candidates is never a match", .enabled(if: ServiceHarness.hasFaces))
    func identifyThresholds() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let probe = try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()
            for t in [-1.0, -5.0, 1.0] {
                #expect(try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "threshold": t]).errorCode == "invalid_request")
            }
            let empty = try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "threshold": -0.99])
            #expect(empty.status == .ok && empty.json["decision"] as? String == "no_match")
            #expect((empty.json["candidates"] as? [Any])?.isEmpty == true)
            #expect(try await client.call(.post, "/v1/identify", auth: sk, json: ["image": probe, "top_k": "5"]).errorCode == "invalid_request")
        }
    }

    @Test("first start prints a key only for a store with no credentials; wrapped keys are bound to their owner, old stores migrated",
          .enabled(if: !ServiceHarness.onPostgres, "the embedded store's files and migration"),
          .enabled(if: ServiceHarness.hasFaces))
    func firstKeyAndAAD() async throws {
        let dir = try ServiceHarness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        _ = try store.createCredential(tenant: store.defaultTenantID, mode: .test, kind: .secret, scopes: [])
        #expect(try store.issueFirstKey() == nil)
        // A wrapped data key does not open as another tenant's.
        let wrapped = try store.vault.newWrappedDataKey(tenant: "ten_a")
        #expect(throws: (any Error).self) { try store.vault.unwrapDataKey(wrapped, tenant: "ten_b") }
        #expect((try? store.vault.unwrapDataKey(wrapped, tenant: "ten_a")) != nil)

        // A store written before owner-bound AADs: re-wrap its keys the old way, reopen, use it.
        let legacy = try ServiceHarness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: legacy) }
        var logger = Logger(label: "t")
        logger.logLevel = .warning
        let config = ServiceHarness.configuration(dataDirectory: legacy)
        do {
            let runtime = try await ArgusServiceRuntime.open(config, pipeline: ServiceHarness.pipeline, environment: [:], logger: logger)
            #expect(runtime.firstKey != nil)
            try await runtime.buildApplication(logger: logger).test(.live) { client in
                let subject = try await Self.subject(client, runtime.firstKey!)
                try await Self.enrol(client, runtime.firstKey!, subject, "Hugo_Chavez/0001.jpg")
            }
            let s = try #require(runtime.store as? SQLiteStore)
            try await s.pool.write { db in
                for row in try Row.fetchAll(db, sql: "SELECT id, wrapped_data_key FROM tenants") {
                    let id: String = row["id"]
                    let raw = try s.vault.unwrap(row["wrapped_data_key"], context: KeyVault.dataKeyContext(tenant: id))
                    try db.execute(sql: "UPDATE tenants SET wrapped_data_key = ? WHERE id = ?",
                                   arguments: [try s.vault.wrap(raw, context: KeyVault.legacyDataKeyContext), id])
                }
                for row in try Row.fetchAll(db, sql: "SELECT kid, sealed_private_key FROM signing_keys") {
                    let kid: String = row["kid"]
                    let raw = try s.vault.unwrap(row["sealed_private_key"], context: KeyVault.signingKeyContext(kid: kid))
                    try db.execute(sql: "UPDATE signing_keys SET sealed_private_key = ? WHERE kid = ?",
                                   arguments: [try s.vault.wrap(raw, context: KeyVault.legacySigningKeyContext), kid])
                }
                try db.execute(sql: "DELETE FROM meta WHERE key = 'aad_bound'")
            }
        }
        let reopened = try await ArgusServiceRuntime.open(config, pipeline: ServiceHarness.pipeline, environment: [:], logger: logger)
        #expect(reopened.firstKey == nil)
        #expect(reopened.galleries.index(tenant: reopened.store.defaultTenantID, mode: .test).count == 1)
        let bound = try await #require(reopened.store as? SQLiteStore).pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'aad_bound'") }
        #expect(bound == "1")
    }

    @Test("11. data directory 0700 and every file 0600, whatever existed before; no secret is ever world-readable",
          .enabled(if: !ServiceHarness.onPostgres, "the embedded store's files"))
    func filePermissions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-perm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        FileManager.default.createFile(atPath: dir + "/argus.sqlite", contents: nil, attributes: [.posixPermissions: 0o644])
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        _ = try store.createCredential(tenant: store.defaultTenantID, mode: .test, kind: .secret, scopes: [])
        func mode(_ path: String) throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1 }
        #expect(try mode(dir) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.contains("master.key") && files.contains("argus.sqlite") && files.contains("argus.sqlite-wal"))
        for file in files { #expect(try mode(dir + "/" + file) == 0o600, "\(file)") }
        #expect(!files.contains { $0.contains(".tmp-") })
    }
}

/// One HTTP/1.1 exchange over a plain socket: for requests the test client cannot make (chunked).
enum RawHTTP {
    static func exchange(port: Int, _ bytes: [UInt8]) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}

@Suite("Service configuration files")
struct ConfigurationFileTests {
    @Test("a config file names only what it changes; the rest keeps its defaults")
    func partialConfig() throws {
        let c = try JSONDecoder().decode(ServiceConfiguration.self, from: Data(#"{"port": 9090, "maxImagePixels": 1000}"#.utf8))
        var expected = ServiceConfiguration()
        expected.port = 9090
        expected.maxImagePixels = 1000
        #expect(c == expected)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ServiceConfiguration.self, from: Data(#"{"port": "x"}"#.utf8)) }
        let roundTrip = try JSONDecoder().decode(ServiceConfiguration.self, from: JSONEncoder().encode(expected))
        #expect(roundTrip == expected)
    }
}
