import ArgusImaging
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
    @Test("during a flood of wrong log-ins the API answers within 0.5 s: password hashing has a thread of its own")
    func pingDuringLoginFlood() async throws {
        try await ServiceHarness.withService(tweak: { $0.openSignup = true }) { runtime, client in
            #expect(try await ConsoleAttackTests.signUp(client, email: "victim@a.test").status == .ok)
            let (cookies, field) = try await ConsoleAttackTests.preLogin(client, "/console/login")
            let started = Date()
            let (statuses, ping) = try await ConsoleAttackTests.loginFlood(runtime, client, cookies: cookies, field: field)
            let took = Date().timeIntervalSince(started)
            #expect(statuses.filter { $0 == .ok }.count == 1, "the ping answered 200")
            #expect(statuses.filter { $0 == .tooManyRequests || $0 == .serviceUnavailable }.count >= 25, "the flood was limited")
            #expect(ping < 0.5, "the ping took \(ping) s")
            #expect(took < 20, "the flood of 30 log-ins took \(took) s")
        }
    }

    @Test("hostile multipart bodies are refused in linear time: 12 MB of empty parts < 1 s, a worst-case boundary search < 2 s, both over HTTP < 5 s")
    func multipartTime() async throws {
        let (hostile, boundary) = SecurityRegressionTests.emptyParts()
        var start = DispatchTime.now().uptimeNanoseconds
        #expect(throws: MultipartForm.Failure.self) { try MultipartForm(body: hostile, boundary: boundary) }
        var took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(took < 1.0, "\(took) s")
        let (body, long) = SecurityRegressionTests.boundarySearchWorstCase()
        start = DispatchTime.now().uptimeNanoseconds
        #expect(throws: MultipartForm.Failure.self) { try MultipartForm(body: body, boundary: long) }
        took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(took < 2.0, "\(took) s")
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: sk, json: ["external_id": "timing"]).json["id"] as? String)
            let hostileBody = Data(hostile), longBody = Data(body.prefix(12 << 20))  // within the 12 MiB body cap
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: sk, body: hostileBody,
                                          contentType: "multipart/form-data; boundary=\(boundary)")
            let r2 = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: sk, body: longBody,
                                           contentType: "multipart/form-data; boundary=\(long)")
            let took = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            #expect(r.status == .badRequest && r2.status == .badRequest, "\(r.status) \(r2.status)")
            #expect(took < 5.0, "\(took) s")
        }
    }

    @Test("a progressive JPEG with hundreds of scans is refused within 1 s")
    func jpegScansTime() throws {
        let hostile = try SecurityRegressionTests.manyScansJPEG()
        let start = DispatchTime.now().uptimeNanoseconds
        #expect(throws: ImagingError.self) { try ImageDecoder().decode(hostile) }
        let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(took < 1.0, "\(took) s")
    }

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
