import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import ArgusService

/// The whole ABIS flow over real HTTP on loopback, as an integrator would run it.
@Suite("ABIS service: the whole flow", .serialized)
struct FlowTests {
    @Test("key → subject → enrol → verify → identify → session → roll → revoke", .enabled(if: ServiceHarness.hasFaces))
    func wholeFlow() async throws {
        try await ServiceHarness.withService { runtime, client in
            let key = try #require(runtime.firstKey)
            #expect(key.hasPrefix("sk_test_") && key.count >= 8 + 32)
            let ping = try await client.call(.get, "/v1/ping", auth: key)
            #expect(ping.status == .ok && ping.json["mode"] as? String == "test")
            #expect(ping.headers[HTTPField.Name("x-request-id")!] != nil)

            // Subjects and enrolment: a raw JPEG body and a JSON base64 body.
            let alice = try await client.call(.post, "/v1/subjects", auth: key, json: ["external_id": "hugo"])
            #expect(alice.status == .created)
            let aliceID = try #require(alice.json["id"] as? String)
            let bob = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: ["external_id": "tom"]).json["id"] as? String)
            let e1 = try await client.call(.post, "/v1/subjects/\(aliceID)/faces", auth: key, body: try ServiceHarness.photo("Hugo_Chavez/0001.jpg"),
                                           contentType: "image/jpeg")
            #expect(e1.status == .created, "\(e1.json)")
            #expect((e1.json["box"] as? [Int])?.count == 4 && e1.json["quality"] != nil)
            let again = try await client.call(.post, "/v1/subjects/\(aliceID)/faces", auth: key, body: try ServiceHarness.photo("Hugo_Chavez/0001.jpg"),
                                              contentType: "image/jpeg")
            #expect(again.status == .ok && again.json["already_enrolled"] as? Bool == true && again.json["id"] as? String == e1.json["id"] as? String)
            let e2 = try await client.call(.post, "/v1/subjects/\(aliceID)/faces", auth: key,
                                           json: ["image": try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()])
            #expect(e2.status == .created)
            let e3 = try await client.call(.post, "/v1/subjects/\(bob)/faces", auth: key, body: try ServiceHarness.photo("Tom_Ridge/0001.jpg"),
                                           contentType: "image/jpeg")
            #expect(e3.status == .created)
            let shown = try await client.call(.get, "/v1/subjects/\(aliceID)", auth: key)
            #expect((shown.json["faces"] as? [String])?.count == 2)

            // 1:1 against a subject and image against image.
            let probe = try ServiceHarness.photo("Hugo_Chavez/0003.jpg").base64EncodedString()
            let other = try ServiceHarness.photo("Tom_Ridge/0002.jpg").base64EncodedString()
            let same = try await client.call(.post, "/v1/verify", auth: key, json: ["subject_id": aliceID, "image": probe])
            #expect(same.status == .ok && same.json["match"] as? Bool == true, "\(same.json)")
            let different = try await client.call(.post, "/v1/verify", auth: key, json: ["subject_id": aliceID, "image": other])
            #expect(different.json["match"] as? Bool == false)
            #expect((different.json["score"] as? Double ?? 1) < (same.json["score"] as? Double ?? 0))
            let pair = try await client.call(.post, "/v1/verify", auth: key, json: ["image_a": probe, "image_b": other])
            #expect(pair.json["match"] as? Bool == false && pair.json["threshold"] != nil)

            // 1:N.
            let found = try await client.call(.post, "/v1/identify", auth: key, json: ["image": probe, "top_k": 2])
            let candidates = try #require(found.json["candidates"] as? [[String: Any]])
            #expect(candidates.first?["subject_id"] as? String == aliceID && found.json["decision"] as? String == "match")
            let stranger = try await client.call(.post, "/v1/identify", auth: key,
                                                 json: ["image": try ServiceHarness.photo("Abel_Pacheco/0001.jpg").base64EncodedString(), "top_k": 1])
            #expect(stranger.json["decision"] as? String == "no_match")

            // A session, used as a mobile client would: only its purpose on its subject, spent by success.
            let session = try await client.call(.post, "/v1/sessions", auth: key,
                                                json: ["customer_ref": "cust-42", "purpose": "verify", "subject_id": aliceID, "ttl": 600])
            #expect(session.status == .created)
            let token = try #require(session.json["token"] as? String)
            #expect(token.hasPrefix("tok_test_") && session.json["expires_at"] != nil)
            let wrongSubject = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": bob, "image": probe])
            #expect(wrongSubject.status == .forbidden && wrongSubject.errorCode == "insufficient_scope")
            let wrongPurpose = try await client.call(.post, "/v1/identify", auth: token, json: ["image": probe])
            #expect(wrongPurpose.status == .forbidden && wrongPurpose.errorCode == "insufficient_scope")
            let noKeys = try await client.call(.get, "/v1/keys", auth: token)
            #expect(noKeys.status == .forbidden)
            let miss = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": aliceID, "image": other])
            #expect(miss.status == .ok && miss.json["match"] as? Bool == false)
            let used = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": aliceID, "image": probe])
            #expect(used.status == .ok && used.json["match"] as? Bool == true)
            let replay = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": aliceID, "image": probe])
            #expect(replay.status == .forbidden && replay.errorCode == "session_spent")
            // The backend reads the outcome: each attempt with its score and decision; the token itself cannot.
            let sessionID = try #require(session.json["id"] as? String)
            let outcome = try await client.call(.get, "/v1/sessions/\(sessionID)", auth: key)
            #expect(outcome.status == .ok && outcome.json["status"] as? String == "succeeded" && outcome.json["attempts_used"] as? Int == 2)
            let attempts = try #require(outcome.json["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["outcome"] as? String } == ["no_match", "match"])
            #expect(attempts.map { $0["match"] as? Bool } == [false, true])
            #expect(abs((attempts.last?["score"] as? Double ?? 0) - (used.json["score"] as? Double ?? 9)) < 1e-6)
            #expect(try await client.call(.get, "/v1/sessions/\(sessionID)", auth: token).status == .forbidden)
            let fresh = try #require(try await client.call(.post, "/v1/sessions", auth: key,
                                                           json: ["customer_ref": "c2", "purpose": "verify", "subject_id": aliceID]).json["token"] as? String)
            #expect(try await client.call(.get, "/v1/sessions/\(sessionID)", auth: fresh).errorCode == "insufficient_scope")
            let page = try await client.call(.get, "/v1/sessions?status=succeeded&customer_ref=cust-42", auth: key)
            #expect(page.status == .ok && (page.json["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [sessionID])
            let none = try await client.call(.get, "/v1/sessions?status=pending&customer_ref=cust-42", auth: key)
            #expect(none.status == .ok && (none.json["data"] as? [Any])?.isEmpty == true)

            // Keys: list shows no secrets; roll with overlap keeps both working; revoke stops one at once.
            let keys = try await client.call(.get, "/v1/keys", auth: key)
            let listed = try #require(keys.json["data"] as? [[String: Any]])
            #expect(listed.allSatisfy { $0["last4"] is String && $0["key"] == nil })
            let keyID = try #require(listed.first?["id"] as? String)
            let rolled = try await client.call(.post, "/v1/keys/\(keyID)/roll", auth: key, json: ["expires_in": 60])
            let newKey = try #require(rolled.json["key"] as? String)
            #expect(try await client.call(.get, "/v1/ping", auth: key).status == .ok)
            #expect(try await client.call(.get, "/v1/ping", auth: newKey).status == .ok)
            let newID = try #require(rolled.json["id"] as? String)
            #expect(try await client.call(.delete, "/v1/keys/\(newID)", auth: key).status == .ok)
            let revoked = try await client.call(.get, "/v1/ping", auth: newKey)
            #expect(revoked.status == .unauthorized && revoked.errorCode == "revoked_credentials")

            // Deleting a subject removes its faces from matching.
            #expect(try await client.call(.delete, "/v1/subjects/\(aliceID)", auth: key).status == .ok)
            let after = try await client.call(.post, "/v1/identify", auth: key, json: ["image": probe, "top_k": 3])
            #expect(after.status == .ok)
            let remaining = try #require(after.json["candidates"] as? [[String: Any]])
            #expect(!remaining.contains { $0["subject_id"] as? String == aliceID })
            #expect(try await client.call(.get, "/v1/subjects/\(aliceID)", auth: key).status == .notFound)
        }
    }

    @Test("modes never mix; restricted keys and client credentials hold only their scopes", .enabled(if: ServiceHarness.hasFaces))
    func modesAndScopes() async throws {
        try await ServiceHarness.withService { runtime, client in
            let key = try #require(runtime.firstKey)
            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: [:]).json["id"] as? String)
            let tenant = try runtime.store.defaultTenantID
            let live = try runtime.store.createCredential(tenant: tenant, mode: .live, kind: .secret, scopes: []).secret
            #expect(live.hasPrefix("sk_live_"))
            #expect(try await client.call(.get, "/v1/subjects/\(subject)", auth: live).status == .notFound)
            let liveList = try await client.call(.get, "/v1/subjects", auth: live)
            #expect((liveList.json["data"] as? [Any])?.isEmpty == true)
            let crossMode = try await client.call(.post, "/v1/keys", auth: key, json: ["kind": "restricted", "mode": "live", "scopes": ["verify"]])
            #expect(crossMode.status == .forbidden && crossMode.errorCode == "mode_mismatch")

            let restricted = try await client.call(.post, "/v1/keys", auth: key, json: ["kind": "restricted", "scopes": ["subjects:read"]])
            let rk = try #require(restricted.json["key"] as? String)
            #expect(rk.hasPrefix("rk_test_"))
            #expect(try await client.call(.get, "/v1/subjects", auth: rk).status == .ok)
            let denied = try await client.call(.post, "/v1/subjects", auth: rk, json: [:])
            #expect(denied.status == .forbidden && denied.errorCode == "insufficient_scope")
            let escalate = try await client.call(.post, "/v1/keys", auth: rk, json: ["kind": "restricted", "scopes": ["identify"]])
            #expect(escalate.status == .forbidden)

            let client1 = try await client.call(.post, "/v1/keys", auth: key, json: ["kind": "client", "scopes": ["subjects:read"]])
            let ck = try #require(client1.json["client_key"] as? String), cs = try #require(client1.json["client_secret"] as? String)
            var headers = HTTPFields()
            headers[HTTPField.Name("x-client-key")!] = ck
            headers[HTTPField.Name("x-client-secret")!] = cs
            #expect(try await client.call(.get, "/v1/subjects", headers: headers).status == .ok)
            headers[HTTPField.Name("x-client-secret")!] = cs + "x"
            let wrong = try await client.call(.get, "/v1/subjects", headers: headers)
            #expect(wrong.status == .unauthorized && wrong.errorCode == "invalid_credentials")

            // Secrets are stored only as digests.
            let db = try ServiceHarness.storedText(runtime)
            #expect(!db.contains(key) && !db.contains(rk) && !db.contains(cs))
        }
    }
}
