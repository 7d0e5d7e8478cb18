import ArgusStore
import Crypto
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ArgusService
@testable import ArgusStore

/// What a review of signed requests and client-held keys found, each held to its fix.
@Suite("Signed requests and client-held keys: review findings")
struct SigningRegressionTests {
    static func b64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func pem(_ prefix: [UInt8], _ raw: Data) -> String {
        "-----BEGIN PUBLIC KEY-----\n\((Data(prefix) + raw).base64EncodedString())\n-----END PUBLIC KEY-----\n"
    }

    static let ed25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
    static let x25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x03, 0x21, 0x00]

    @Test("small-order Ed25519 signers (as PEM or JWK, either sign bit) and low-order X25519 app keys are refused")
    func degenerateKeys() async throws {
        try await ServiceHarness.withRouter { runtime, client in
            let sk = try #require(runtime.firstKey)
            let id = try #require(try await client.call(.get, "/v1/ping", auth: sk).json["credential"] as? String)
            for bad in PublicKeys.smallOrderEd25519 {
                for top: UInt8 in [0, 0x80] {
                    var raw = bad
                    raw[31] |= top
                    let asPEM = try await client.call(.post, "/v1/keys/\(id)/signers", auth: sk,
                                                      json: ["alg": "Ed25519", "public_key_pem": Self.pem(Self.ed25519Prefix, Data(raw))])
                    #expect(asPEM.status == .badRequest, "\(raw)")
                    let asJWK = try await client.call(.post, "/v1/keys/\(id)/signers", auth: sk,
                                                      json: ["alg": "Ed25519", "jwk": ["kty": "OKP", "crv": "Ed25519", "x": Self.b64url(Data(raw))]])
                    #expect(asJWK.status == .badRequest)
                }
            }
            let good = try await client.call(.post, "/v1/keys/\(id)/signers", auth: sk,
                                             json: ["alg": "Ed25519", "public_key_pem": Self.pem(Self.ed25519Prefix, Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)])
            #expect(good.status == .created)
            for low in [Data(repeating: 0, count: 32), Data([1] + [UInt8](repeating: 0, count: 31))] {
                let reply = try await client.call(.post, "/v1/app_keys", auth: sk, json: ["alg": "HPKE-X25519", "public_key_pem": Self.pem(Self.x25519Prefix, low)])
                #expect(reply.status == .badRequest)
            }
        }
    }

    @Test("only a secret key registers the application key; a second needs replace: true")
    func appKeyAuthority() async throws {
        try await ServiceHarness.withRouter { runtime, client in
            let sk = try #require(runtime.firstKey)
            let rk = try #require(try await client.call(.post, "/v1/keys", auth: sk, json: ["kind": "restricted", "scopes": ["keys:manage"]]).json["key"] as? String)
            let pem = Self.pem(Self.x25519Prefix, Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
            #expect(try await client.call(.post, "/v1/app_keys", auth: rk, json: ["alg": "HPKE-X25519", "public_key_pem": pem]).errorCode == "insufficient_scope")
            #expect(try await client.call(.post, "/v1/app_keys", auth: sk, json: ["alg": "HPKE-X25519", "public_key_pem": pem]).status == .created)
            let again = Self.pem(Self.x25519Prefix, Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
            #expect(try await client.call(.post, "/v1/app_keys", auth: sk, json: ["alg": "HPKE-X25519", "public_key_pem": again]).errorCode == "conflict")
            #expect(try await client.call(.post, "/v1/app_keys", auth: sk, json: ["alg": "HPKE-X25519", "public_key_pem": again, "replace": true]).status == .created)
            let listed = try await client.call(.get, "/v1/app_keys", auth: sk)
            #expect((listed.json["data"] as? [[String: Any]])?.map { $0["active"] as? Bool } == [true, false])
        }
    }

    @Test("a huge signature is refused before any decoding; the last signer of a signing key stays; other modes cannot burn an action")
    func costAndLockout() async throws {
        try await ServiceHarness.withRouter { runtime, client in
            let sk = try #require(runtime.firstKey)
            let id = try #require(try await client.call(.get, "/v1/ping", auth: sk).json["credential"] as? String)
            let key = Curve25519.Signing.PrivateKey()
            let signer = try #require(try await client.call(.post, "/v1/keys/\(id)/signers", auth: sk,
                                                            json: ["alg": "Ed25519", "public_key_pem": Self.pem(Self.ed25519Prefix, key.publicKey.rawRepresentation)])
                                        .json["id"] as? String)
            // Refused at the route's body cap, before the JSON is decoded. (How long the refusal takes
            // is asserted in TimingTests, run alone: this suite shares two cores with all the others.)
            let hugeBody = try JSONSerialization.data(withJSONObject: ["challenge_id": "chl_x", "signer_id": signer,
                                                                       "signature": String(repeating: "_", count: 11 << 20)])
            let huge = try await client.call(.post, "/v1/auth/action", auth: sk, body: hugeBody, contentType: "application/json")
            #expect(huge.status == .contentTooLarge && huge.errorCode == "payload_too_large", "\(huge.status) \(huge.json)")

            // An action of this test-mode key, tried first by a live-mode key of the same tenant.
            func action(_ method: String, _ path: String, _ body: Data) async throws -> String {
                let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
                let ch = try await client.call(.post, "/v1/auth/action/init", auth: sk, json: ["method": method, "path": path, "body_sha256": digest])
                let challenge = try #require(ch.json["challenge"] as? String), challengeID = try #require(ch.json["challenge_id"] as? String)
                let message = Data("{\"challenge\":\"\(challenge)\",\"method\":\"\(method)\",\"path\":\"\(path)\",\"body_sha256\":\"\(digest)\"}".utf8)
                let ua = try await client.call(.post, "/v1/auth/action", auth: sk,
                                               json: ["challenge_id": challengeID, "signer_id": signer, "signature": Self.b64url(try key.signature(for: message))])
                return try #require(ua.json["user_action"] as? String)
            }
            let live = try runtime.store.createCredential(tenant: runtime.store.defaultTenantID, mode: .live, kind: .secret, scopes: []).secret
            let body = try JSONSerialization.data(withJSONObject: ["external_id": "x"])
            let ua = try await action("POST", "/v1/subjects", body)
            let stolen = try await client.call(.post, "/v1/subjects", auth: live, headers: [HTTPField.Name("x-argus-user-action")!: ua], body: body,
                                               contentType: "application/json")
            #expect(stolen.errorCode == "user_action_invalid")
            let own = try await client.call(.post, "/v1/subjects", auth: sk, headers: [HTTPField.Name("x-argus-user-action")!: ua], body: body,
                                            contentType: "application/json")
            #expect(own.status == .created)

            // Require signing, then try to revoke the only signer (signed): refused, the key keeps its way out.
            let patchBody = try JSONSerialization.data(withJSONObject: ["signed_requests": "required"])
            #expect(try await client.call(.patch, "/v1/keys/\(id)", auth: sk, body: patchBody, contentType: "application/json").status == .ok)
            let revokeUA = try await action("DELETE", "/v1/keys/\(id)/signers/\(signer)", Data())
            let revoke = try await client.call(.delete, "/v1/keys/\(id)/signers/\(signer)", auth: sk,
                                               headers: [HTTPField.Name("x-argus-user-action")!: revokeUA])
            #expect(revoke.status == .badRequest)
            let offBody = try JSONSerialization.data(withJSONObject: ["signed_requests": "optional"])
            let offUA = try await action("PATCH", "/v1/keys/\(id)", offBody)
            #expect(try await client.call(.patch, "/v1/keys/\(id)", auth: sk, headers: [HTTPField.Name("x-argus-user-action")!: offUA], body: offBody,
                                          contentType: "application/json").status == .ok)
        }
    }
}
