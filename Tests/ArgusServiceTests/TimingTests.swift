import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import ArgusService

/// Assertions on how long something takes. `make test` runs this suite on its own, after the
/// others (`swift test --filter TimingTests`): with every suite at once on two cores, a wall clock
/// measures the neighbours, not the code.
@Suite("Timing (run alone)")
struct TimingTests {
    @Test("a huge signature is refused at the body cap within 3 s")
    func hugeSignature() async throws {
        try await ServiceHarness.withRouter { runtime, client in
            let sk = try #require(runtime.firstKey)
            let id = try #require(try await client.call(.get, "/v1/ping", auth: sk).json["credential"] as? String)
            let key = Curve25519.Signing.PrivateKey()
            let pem = SigningRegressionTests.pem(SigningRegressionTests.ed25519Prefix, key.publicKey.rawRepresentation)
            let signer = try #require(try await client.call(.post, "/v1/keys/\(id)/signers", auth: sk, json: ["alg": "Ed25519", "public_key_pem": pem])
                                        .json["id"] as? String)
            // The body is encoded before the clock starts: what is timed is the server's refusal.
            let hugeBody = try JSONSerialization.data(withJSONObject: ["challenge_id": "chl_x", "signer_id": signer,
                                                                       "signature": String(repeating: "_", count: 11 << 20)])
            let started = Date()
            let huge = try await client.call(.post, "/v1/auth/action", auth: sk, body: hugeBody, contentType: "application/json")
            let took = Date().timeIntervalSince(started)
            #expect(huge.status == .contentTooLarge, "\(huge.status)")
            #expect(took < 3, "\(took) s")
        }
    }
}
