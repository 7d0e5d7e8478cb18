import ArgusClient
import ArgusFace
import ArgusImaging
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import ArgusService

/// ArgusClient against a live server (a real socket), with signed requests and client-held keys.
@Suite("ArgusClient: signed requests and client-held template keys, live", .serialized)
struct ClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var shared: URL {
        ProcessInfo.processInfo.environment["ARGUS_SHARED"].map { URL(fileURLWithPath: $0) } ?? root.deletingLastPathComponent().appendingPathComponent("shared")
    }
    static var hasFaces: Bool {
        let present = FileManager.default.fileExists(atPath: shared.appendingPathComponent("faces/images").path)
        if !present { print("skipping: \(shared.path)/faces is absent (../shared is not beside this checkout)") }
        return present
    }
    static let pipeline: FacePipeline = {
        let models = ProcessInfo.processInfo.environment["ARGUS_MODELS"] ?? root.appendingPathComponent("models").path
        do { return try FacePipeline(models: ModelDirectory(path: models)) } catch { fatalError("models: \(error) (run `make models`)") }
    }()
    static func photo(_ name: String) throws -> Data { try Data(contentsOf: shared.appendingPathComponent("faces/images/\(name)")) }

    /// A live server on a fresh store: the runtime, its base URL and its first key.
    static func withServer(dataDirectory: String? = nil, tweak: (inout ServiceConfiguration) -> Void = { _ in },
                           _ body: @Sendable (ArgusServiceRuntime, URL, String) async throws -> Void) async throws {
        let dir = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("argus-client-\(UUID().uuidString)").path
        defer { if dataDirectory == nil { try? FileManager.default.removeItem(atPath: dir) } }
        var configuration = ServiceConfiguration()
        configuration.dataDirectory = dir
        configuration.port = 0
        tweak(&configuration)
        var logger = Logger(label: "argus-client-test")
        logger.logLevel = .warning
        let runtime = try await ArgusServiceRuntime.open(configuration, pipeline: pipeline, environment: [:], logger: logger)
        try await runtime.buildApplication(logger: logger).test(.live) { client in
            let port = try #require(client.port)
            try await body(runtime, try #require(URL(string: "http://127.0.0.1:\(port)")), runtime.firstKey ?? "")
        }
    }

    static func pem(ed25519 key: Curve25519.Signing.PublicKey) -> String {
        // SubjectPublicKeyInfo for Ed25519: the fixed prefix, then the 32 key bytes.
        let der = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + key.rawRepresentation
        return "-----BEGIN PUBLIC KEY-----\n\(der.base64EncodedString())\n-----END PUBLIC KEY-----\n"
    }

    static func code(_ work: () async throws -> Void) async -> String? {
        do { try await work(); return nil } catch let failure as ArgusClient.Failure { return failure.code } catch { return "\(error)" }
    }

    @Test("direct signing is transparent; delegated signing in two halves; tampering, replay and revoked signers refused")
    func signedRequests() async throws {
        try await Self.withServer { _, base, sk in
            let admin = ArgusClient(baseURL: base, credential: .key(sk))
            // A second secret key that will sign its requests (ES256 here; the Python peers cover all four).
            let created = try await admin.send("POST", "/v1/keys", json: ["kind": "secret", "name": "signed"])
            let keyID = try #require(created.json["id"] as? String), key = try #require(created.json["key"] as? String)
            let p256 = P256.Signing.PrivateKey()
            let plain = ArgusClient(baseURL: base, credential: .key(key))
            let signer = try await plain.send("POST", "/v1/keys/\(keyID)/signers", json: ["alg": "ES256", "public_key_pem": p256.publicKey.pemRepresentation])
            let signerID = try #require(signer.json["id"] as? String)
            let patched = try await plain.send("PATCH", "/v1/keys/\(keyID)", json: ["signed_requests": "required"])
            #expect(patched.json["signed_requests"] as? String == "required")

            #expect(await Self.code { _ = try await plain.createSubject(externalID: "x") } == "user_action_required")
            #expect(try await plain.ping().status == 200)
            let signed = ArgusClient(baseURL: base, credential: .key(key), signer: .p256(id: signerID, key: p256))
            #expect(try await signed.createSubject(externalID: "alice").status == 201)

            // Delegated: the backend inits, the "device" signs, another key of the tenant completes.
            let body = try JSONSerialization.data(withJSONObject: ["external_id": "bob"])
            let challenge = try await plain.initAction(method: "POST", path: "/v1/subjects", body: body)
            let signature = try p256.signature(for: challenge.signedBytes).derRepresentation
            let action = try await admin.completeAction(challengeID: challenge.id, signerID: signerID, signature: signature)
            #expect(try await plain.raw("POST", "/v1/subjects", body: body, contentType: "application/json",
                                        headers: ["x-argus-user-action": action]).status == 201)
            // Replay of the same action, and a challenge completed twice.
            #expect(await Self.code { _ = try await plain.raw("POST", "/v1/subjects", body: body, contentType: "application/json",
                                                              headers: ["x-argus-user-action": action]) } == "user_action_invalid")
            #expect(await Self.code { _ = try await admin.completeAction(challengeID: challenge.id, signerID: signerID, signature: signature) }
                    == "user_action_invalid")
            // Tampered body.
            let other = try await plain.initAction(method: "POST", path: "/v1/subjects", body: body)
            let ua = try await plain.completeAction(challengeID: other.id, signerID: signerID, signature: try p256.signature(for: other.signedBytes).derRepresentation)
            #expect(await Self.code { _ = try await plain.raw("POST", "/v1/subjects", body: Data("{\"external_id\":\"mallory\"}".utf8),
                                                              contentType: "application/json", headers: ["x-argus-user-action": ua]) } == "user_action_invalid")
            // Rolling does not shed the requirement: the new key signs too, with the same signers.
            let rolled = try await signed.send("POST", "/v1/keys/\(keyID)/roll", json: ["expires_in": 0])
            let newKey = try #require(rolled.json["key"] as? String)
            #expect(rolled.json["signed_requests"] as? String == "required")
            #expect(await Self.code { _ = try await ArgusClient(baseURL: base, credential: .key(newKey)).createSubject(externalID: "y") } == "user_action_required")
        }
    }

    @Test("an expired challenge completes nothing, and an expired user action authorises nothing")
    func expiry() async throws {
        try await Self.withServer(tweak: { $0.userActionLifetime = 1 }) { _, base, sk in
            let admin = ArgusClient(baseURL: base, credential: .key(sk))
            let key = Curve25519.Signing.PrivateKey()
            let me = try await admin.send("GET", "/v1/ping")
            let keyID = try #require(me.json["credential"] as? String)
            let signerID = try #require(try await admin.send("POST", "/v1/keys/\(keyID)/signers",
                                                             json: ["alg": "Ed25519", "public_key_pem": Self.pem(ed25519: key.publicKey)]).json["id"] as? String)
            let body = Data("{}".utf8)
            let late = try await admin.initAction(method: "POST", path: "/v1/subjects", body: body)
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(await Self.code { _ = try await admin.completeAction(challengeID: late.id, signerID: signerID,
                                                                         signature: try key.signature(for: late.signedBytes)) } == "user_action_invalid")
            // A fresh challenge completes (the 1 s lifetime is the precondition: a try that took
            // longer on a busy machine is made again, at most three times).
            var action: String?
            for _ in 0..<3 where action == nil {
                let started = ContinuousClock.now
                let fresh = try await admin.initAction(method: "POST", path: "/v1/subjects", body: body)
                let completed = try? await admin.completeAction(challengeID: fresh.id, signerID: signerID, signature: try key.signature(for: fresh.signedBytes))
                if let completed { action = completed } else if ContinuousClock.now - started < .milliseconds(900) { break }
            }
            let authorised = try #require(action, "a fresh challenge completes within its lifetime")
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(await Self.code { _ = try await admin.raw("POST", "/v1/subjects", body: body, contentType: "application/json",
                                                              headers: ["x-argus-user-action": authorised]) } == "user_action_invalid")
        }
    }

    @Test("client-held keys: no template and no key in any file; verify needs the key, a wrong key is one constant error; never in 1:N",
          .enabled(if: hasFaces))
    func clientCustody() async throws {
        try await Self.withServer { runtime, base, sk in
            let api = ArgusClient(baseURL: base, credential: .key(sk))
            #expect(await Self.code { _ = try await api.createSubject(clientCustody: true) } == "invalid_request")  // no app key yet
            let rsa = try _RSA.Encryption.PrivateKey(keySize: .bits2048)
            _ = try await api.send("POST", "/v1/app_keys", json: ["alg": "RSA-OAEP-256", "public_key_pem": rsa.publicKey.pemRepresentation])
            let subject = try #require(try await api.createSubject(externalID: "held", clientCustody: true).json["id"] as? String)
            let enrolled = try await api.enroll(subject: subject, jpeg: try Self.photo("Hugo_Chavez/0001.jpg"))
            let wrapped = try #require((enrolled.json["subject_key"] as? String).flatMap(Self.base64URL))
            let key = try rsa.decrypt(wrapped, padding: .PKCS1_OAEP_SHA256)
            #expect(key.count == 32)
            let probe = try Self.photo("Hugo_Chavez/0002.jpg")
            let match = try await api.verify(subject: subject, image: probe, subjectKey: key)
            #expect(match.json["match"] as? Bool == true)
            #expect(await Self.code { _ = try await api.verify(subject: subject, image: probe) } == "subject_key_required")
            #expect(await Self.code { _ = try await api.verify(subject: subject, image: probe, subjectKey: Data(repeating: 7, count: 32)) } == "subject_key_invalid")
            #expect(await Self.code { _ = try await api.verify(subject: subject, image: probe, subjectKey: Data(repeating: 7, count: 5)) } == "subject_key_invalid")
            // Never part of dedup: the same person enrolled on an ordinary subject finds no duplicate.
            let plain = try #require(try await api.createSubject(externalID: "plain").json["id"] as? String)
            let deduped = try await api.send("POST", "/v1/subjects/\(plain)/faces?dedup=true", body: try Self.photo("Hugo_Chavez/0004.jpg"),
                                             contentType: "image/jpeg")
            #expect(deduped.status == 201 && (deduped.json["duplicates"] as? [Any])?.isEmpty == true)
            _ = try await api.send("DELETE", "/v1/subjects/\(plain)")
            // Never searched 1:N: identify with the same person finds nobody.
            let found = try await api.identify(image: probe)
            #expect((found.json["candidates"] as? [Any])?.isEmpty == true)
            let shown = try await api.send("GET", "/v1/subjects/\(subject)")
            #expect(shown.json["key_custody"] as? String == "client" && shown.json["searchable"] as? Bool == false)
            // The raw bytes of every file of the data directory: no K, no wrapped K, no template.
            let template = try #require(try Self.pipeline.enrollmentFace(try ImageDecoder().decode(Array(try Self.photo("Hugo_Chavez/0001.jpg")))).template)
            let digest = Data(SHA256.hash(data: try Self.photo("Hugo_Chavez/0001.jpg")).map { String(format: "%02x", $0) }.joined().utf8)
            let needles = [key, wrapped, template.withUnsafeBytes { Data($0) }.prefix(32), digest]
            let dir = runtime.configuration.dataDirectory
            for file in try FileManager.default.contentsOfDirectory(atPath: dir) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent(file))
                for needle in needles { #expect(bytes.range(of: needle) == nil, "\(file) holds a secret or the photo's digest") }
            }
            // Re-enrolling rotates K: the old key no longer opens anything.
            let again = try await api.enroll(subject: subject, jpeg: try Self.photo("Hugo_Chavez/0003.jpg"))
            let key2 = try rsa.decrypt(try #require((again.json["subject_key"] as? String).flatMap(Self.base64URL)), padding: .PKCS1_OAEP_SHA256)
            #expect(key2 != key)
            #expect(await Self.code { _ = try await api.verify(subject: subject, image: probe, subjectKey: key) } == "subject_key_invalid")
            #expect(try await api.verify(subject: subject, image: probe, subjectKey: key2).json["match"] as? Bool == true)
            // A copy of the data directory, master key included, served elsewhere: still nothing without K.
            let copy = dir + "-copy"
            try FileManager.default.copyItem(atPath: dir, toPath: copy)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try? FileManager.default.removeItem(atPath: copy + "/argus.lock")
            try await Self.withServer(dataDirectory: copy) { _, copyBase, _ in
                let thief = ArgusClient(baseURL: copyBase, credential: .key(sk))
                #expect(await Self.code { _ = try await thief.verify(subject: subject, image: probe) } == "subject_key_required")
                #expect(await Self.code { _ = try await thief.verify(subject: subject, image: probe, subjectKey: key) } == "subject_key_invalid")
                let opened = try await thief.verify(subject: subject, image: probe, subjectKey: key2)
                #expect(opened.json["match"] as? Bool == true)
            }
        }
    }

    @Test("HPKE-X25519 application keys wrap the subject key for the holder of the private key")
    func hpke() async throws {
        guard Self.hasFaces else { return }
        try await Self.withServer { _, base, sk in
            let api = ArgusClient(baseURL: base, credential: .key(sk))
            let recipient = Curve25519.KeyAgreement.PrivateKey()
            let der = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x03, 0x21, 0x00]) + recipient.publicKey.rawRepresentation
            _ = try await api.send("POST", "/v1/app_keys", json: ["alg": "HPKE-X25519",
                                                                  "public_key_pem": "-----BEGIN PUBLIC KEY-----\n\(der.base64EncodedString())\n-----END PUBLIC KEY-----\n"])
            let subject = try #require(try await api.createSubject(clientCustody: true).json["id"] as? String)
            let enrolled = try await api.enroll(subject: subject, jpeg: try Self.photo("Hugo_Chavez/0001.jpg"))
            let wrapped = try #require((enrolled.json["subject_key"] as? String).flatMap(Self.base64URL))
            var receiver = try HPKE.Recipient(privateKey: recipient, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Data("argus subject key".utf8),
                                              encapsulatedKey: wrapped.prefix(32))
            let key = try receiver.open(wrapped.dropFirst(32))
            #expect(try await api.verify(subject: subject, image: try Self.photo("Hugo_Chavez/0002.jpg"), subjectKey: key).json["match"] as? Bool == true)
        }
    }

    static func base64URL(_ s: String) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }
}
