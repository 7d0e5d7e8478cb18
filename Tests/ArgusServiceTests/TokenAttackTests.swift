import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ArgusService

/// Session tokens under attack: every forgery and misuse must be refused.
@Suite("ABIS service: session token attacks", .serialized)
struct TokenAttackTests {
    static func b64(_ data: Data) -> String { SessionTokens.base64URLEncode(data) }
    static func b64(_ json: [String: Any]) throws -> String { b64(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) }

    @Test("alg none, HS256 with the public key, unknown kid, embedded jwk, tampering, expiry, nbf, audience, replay, misuse",
          .enabled(if: ServiceHarness.hasFaces))
    func attacks() async throws {
        try await ServiceHarness.withService { runtime, client in
            let key = try #require(runtime.firstKey)
            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: [:]).json["id"] as? String)
            let other = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: [:]).json["id"] as? String)
            let face = try ServiceHarness.photo("Hugo_Chavez/0001.jpg")
            #expect(try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: face, contentType: "image/jpeg").status == .created)
            let probe = try ServiceHarness.photo("Hugo_Chavez/0002.jpg").base64EncodedString()
            let body: [String: Any] = ["subject_id": subject, "image": probe]

            let minted = try await client.call(.post, "/v1/sessions", auth: key, json: ["customer_ref": "c1", "purpose": "verify", "subject_id": subject])
            let token = try #require(minted.json["token"] as? String)
            let jwt = String(token.dropFirst("tok_test_".count))
            let parts = jwt.split(separator: ".").map(String.init)
            let header = try #require(try JSONSerialization.jsonObject(with: SessionTokens.base64URLDecode(parts[0])!) as? [String: Any])
            var payload = try #require(try JSONSerialization.jsonObject(with: SessionTokens.base64URLDecode(parts[1])!) as? [String: Any])
            #expect(header["alg"] as? String == "EdDSA" && header["typ"] as? String == "JWT" && header["kid"] is String)
            for claim in ["iss", "aud", "sub", "tenant", "mode", "purpose", "subject", "jti", "iat", "nbf", "exp"] { #expect(payload[claim] != nil, "\(claim)") }
            #expect(payload["sub"] as? String == "c1")

            func expectRefused(_ forged: String, _ label: String, code: String = "invalid_credentials") async throws {
                let r = try await client.call(.post, "/v1/verify", auth: forged, json: body)
                #expect(r.status == .unauthorized && r.errorCode == code, "\(label): \(r.status) \(r.json)")
            }
            // alg: none with an empty signature.
            try await expectRefused("tok_test_" + (try Self.b64(["alg": "none", "typ": "JWT", "kid": header["kid"]!])) + "." + parts[1] + ".", "alg none")
            // HS256 signed with the server's public key as the HMAC secret.
            let jwks = try await client.call(.get, "/.well-known/jwks.json")
            let x = try #require((jwks.json["keys"] as? [[String: Any]])?.first?["x"] as? String)
            let hsHeader = try Self.b64(["alg": "HS256", "typ": "JWT", "kid": header["kid"]!])
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(hsHeader).\(parts[1])".utf8), using: SymmetricKey(data: Data(x.utf8)))
            try await expectRefused("tok_test_\(hsHeader).\(parts[1]).\(Self.b64(Data(mac)))", "HS256 with public key")
            // Unknown kid, and a key embedded in the header.
            let unknownKid = try Self.b64(["alg": "EdDSA", "typ": "JWT", "kid": "sig_attacker"])
            try await expectRefused("tok_test_\(unknownKid).\(parts[1]).\(parts[2])", "unknown kid")
            let attacker = Curve25519.Signing.PrivateKey()
            let embedded = try Self.b64(["alg": "EdDSA", "typ": "JWT", "kid": header["kid"]!,
                                         "jwk": ["kty": "OKP", "crv": "Ed25519", "x": Self.b64(attacker.publicKey.rawRepresentation)]])
            let sig = try attacker.signature(for: Data("\(embedded).\(parts[1])".utf8))
            try await expectRefused("tok_test_\(embedded).\(parts[1]).\(Self.b64(sig))", "embedded jwk")
            // A token signed by another Ed25519 key under our kid.
            let forgedSig = try attacker.signature(for: Data("\(parts[0]).\(parts[1])".utf8))
            try await expectRefused("tok_test_\(parts[0]).\(parts[1]).\(Self.b64(forgedSig))", "foreign signer")
            // Tampered payload (another subject), original signature.
            payload["subject"] = other
            try await expectRefused("tok_test_\(parts[0]).\(try Self.b64(payload)).\(parts[2])", "tampered payload")
            // Mode prefix swapped.
            try await expectRefused("tok_live_" + jwt, "mode prefix")

            // Validly signed tokens with bad claims, minted with the server's own key.
            let now = Int(Date().timeIntervalSince1970)
            guard let record = try runtime.store.session(id: payload["jti"] as! String) else { Issue.record("no session row"); return }
            func signed(_ tweak: (inout SessionClaims) -> Void) async throws -> String {
                var c = SessionClaims(iss: "argus", aud: "argus-session", sub: "c1", tenant: record.tenantID, mode: "test", purpose: "verify",
                                      subject: subject, jti: record.id, iat: now, nbf: now, exp: now + 600)
                tweak(&c)
                return try await runtime.tokens.mint(c)
            }
            try await expectRefused(try await signed { $0.exp = now - 120 }, "expired", code: "token_expired")
            try await expectRefused(try await signed { $0.nbf = now + 600 }, "not yet valid")
            try await expectRefused(try await signed { $0.aud = "someone-else" }, "wrong audience")
            try await expectRefused(try await signed { $0.iss = "evil" }, "wrong issuer")
            try await expectRefused(try await signed { $0.jti = "ses_unknown" }, "unknown session")
            // No skew past exp for the server's own tokens: a second late is expired (401 token_expired, the SDK's refresh cue).
            try await expectRefused(try await signed { $0.exp = now - 1 }, "just expired", code: "token_expired")
            #expect(try await client.call(.get, "/v1/ping", auth: try await signed { $0.exp = now + 60 }).status == .ok)

            // Misuse: another subject, another purpose; attempts are counted; success spends; revocation.
            let otherSubject = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": other, "image": probe])
            #expect(otherSubject.status == .forbidden && otherSubject.errorCode == "insufficient_scope")
            let enroll = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: token, body: face, contentType: "image/jpeg")
            #expect(enroll.status == .forbidden)
            let renew = try await client.call(.post, "/v1/sessions", auth: token, json: ["customer_ref": "c1", "purpose": "verify", "subject_id": subject])
            #expect(renew.status == .forbidden)
            let stranger = try ServiceHarness.photo("Tom_Ridge/0001.jpg").base64EncodedString()
            for _ in 0..<3 {
                let miss = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": subject, "image": stranger])
                #expect(miss.status == .ok && miss.json["match"] as? Bool == false)
            }
            let exhausted = try await client.call(.post, "/v1/verify", auth: token, json: body)
            #expect(exhausted.status == .forbidden && exhausted.errorCode == "session_spent")

            let second = try await client.call(.post, "/v1/sessions", auth: key, json: ["customer_ref": "c2", "purpose": "verify", "subject_id": subject])
            let token2 = try #require(second.json["token"] as? String), id2 = try #require(second.json["id"] as? String)
            #expect(try await client.call(.post, "/v1/verify", auth: token2, json: body).json["match"] as? Bool == true)
            let replay = try await client.call(.post, "/v1/verify", auth: token2, json: body)
            #expect(replay.status == .forbidden && replay.errorCode == "session_spent")
            let third = try await client.call(.post, "/v1/sessions", auth: key, json: ["customer_ref": "c3", "purpose": "verify", "subject_id": subject])
            let token3 = try #require(third.json["token"] as? String), id3 = try #require(third.json["id"] as? String)
            #expect(try await client.call(.delete, "/v1/sessions/\(id3)", auth: key).status == .ok)
            let revoked = try await client.call(.post, "/v1/verify", auth: token3, json: body)
            #expect(revoked.status == .unauthorized && revoked.errorCode == "revoked_credentials")
            #expect(id2 != id3)

            // An enrol session enrols once on its subject.
            let enrolSession = try await client.call(.post, "/v1/sessions", auth: key, json: ["customer_ref": "c4", "purpose": "enroll", "subject_id": subject])
            let token4 = try #require(enrolSession.json["token"] as? String)
            let newFace = try ServiceHarness.photo("Hugo_Chavez/0004.jpg")
            #expect(try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: token4, body: newFace, contentType: "image/jpeg").status == .created)
            #expect(try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: token4, body: newFace, contentType: "image/jpeg").errorCode == "session_spent")

            // TTL is capped by the configured maximum.
            let long = try await client.call(.post, "/v1/sessions", auth: key, json: ["customer_ref": "c5", "purpose": "verify", "subject_id": subject, "ttl": 86_400])
            let expires = try #require(ISO8601DateFormatter().date(from: long.json["expires_at"] as? String ?? ""))
            #expect(expires.timeIntervalSinceNow <= 3_601)
        }
    }

    @Test("signing keys rotate; JWKS publishes the keys still in use; tokens of the old key still verify")
    func rotation() async throws {
        try await ServiceHarness.withService { runtime, client in
            let key = try #require(runtime.firstKey)
            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: [:]).json["id"] as? String)
            let before = try #require(try await client.call(.post, "/v1/sessions", auth: key,
                                                            json: ["customer_ref": "r", "purpose": "verify", "subject_id": subject]).json["token"] as? String)
            try await runtime.tokens.rotate()
            let jwks = try await client.call(.get, "/.well-known/jwks.json")
            #expect((jwks.json["keys"] as? [Any])?.count == 2)
            #expect(try await client.call(.get, "/v1/ping", auth: before).status == .ok)
            // Long after retirement the old key is dropped.
            let later = Date().addingTimeInterval(TimeInterval(runtime.configuration.sessionMaxTTL + 120))
            #expect(runtime.tokens.usableKeys(now: later).count == 1)
        }
    }
}
