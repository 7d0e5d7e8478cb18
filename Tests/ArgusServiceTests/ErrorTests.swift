import ArgusImaging
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ArgusStore
import GRDB
@testable import ArgusService

/// Every error code the API documents, with the one error shape.
@Suite("ABIS service: errors", .serialized)
struct ErrorTests {
    static func flatJPEG() throws -> Data {
        Data(try ImageEncoder.jpeg(RGBImage(width: 320, height: 240, pixels: [UInt8](repeating: 110, count: 320 * 240 * 3))))
    }

    @Test("401s, 404, 409, 413, 415, 400 and 422s carry type, code, message and request_id", .enabled(if: ServiceHarness.hasFaces))
    func codes() async throws {
        try await ServiceHarness.withService(tweak: { $0.maxBodyBytes = 400_000 }) { runtime, client in
            let key = try #require(runtime.firstKey)
            let missing = try await client.call(.get, "/v1/subjects")
            #expect(missing.status == .unauthorized && missing.errorCode == "missing_credentials")
            let shape = try #require(missing.json["error"] as? [String: Any])
            #expect(shape["type"] is String && shape["message"] is String && (shape["request_id"] as? String)?.hasPrefix("req_") == true)
            #expect(try await client.call(.get, "/v1/subjects", auth: "sk_test_0000000000000000000000000000000").errorCode == "invalid_credentials")
            #expect(try await client.call(.get, "/v1/subjects", auth: "garbage").errorCode == "invalid_credentials")

            // Expired: rolled with no overlap.
            let tenant = try runtime.store.defaultTenantID
            let spare = try runtime.store.createCredential(tenant: tenant, mode: .test, kind: .secret, scopes: [])
            _ = try runtime.store.roll(credentialID: spare.credential.id, overlap: 0, now: Date())
            let expired = try await client.call(.get, "/v1/ping", auth: spare.secret)
            #expect(expired.status == .unauthorized && expired.errorCode == "expired_credentials")

            #expect(try await client.call(.get, "/v1/subjects/sub_nope", auth: key).errorCode == "not_found")
            #expect(try await client.call(.get, "/v1/nothing-here", auth: key).status == .notFound)
            _ = try await client.call(.post, "/v1/subjects", auth: key, json: ["external_id": "dup"])
            let dup = try await client.call(.post, "/v1/subjects", auth: key, json: ["external_id": "dup"])
            #expect(dup.status == .conflict && dup.errorCode == "conflict")

            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: key, json: [:]).json["id"] as? String)
            let big = Data(repeating: 0x41, count: 500_000)
            let tooLarge = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: big, contentType: "image/jpeg")
            #expect(tooLarge.status == .contentTooLarge && tooLarge.errorCode == "payload_too_large")
            let text = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: Data("hi".utf8), contentType: "text/plain")
            #expect(text.status == .unsupportedMediaType && text.errorCode == "unsupported_media_type")
            let malformed = try await client.call(.post, "/v1/subjects", auth: key, body: Data("{not json".utf8), contentType: "application/json")
            #expect(malformed.status == .badRequest && malformed.errorCode == "invalid_request")

            let noFace = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: try Self.flatJPEG(), contentType: "image/jpeg")
            #expect(noFace.status == .unprocessableContent && noFace.errorCode == "no_face")
            let corrupt = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: Data([0xFF, 0xD8, 0xFF, 0, 1, 2]),
                                                contentType: "image/jpeg")
            #expect(corrupt.status == .unprocessableContent && corrupt.errorCode == "invalid_image")
            // Two faces side by side.
            let photo = try ImageDecoder().decode(try [UInt8](ServiceHarness.photo("Hugo_Chavez/0001.jpg")))
            var two = RGBImage(width: photo.width * 2, height: photo.height)
            for y in 0..<photo.height { for x in 0..<two.width { for c in 0..<3 { two.pixels[(y * two.width + x) * 3 + c] = photo.pixels[(y * photo.width + x % photo.width) * 3 + c] } } }
            let several = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: Data(try ImageEncoder.jpeg(two)),
                                                contentType: "image/jpeg")
            #expect(several.status == .unprocessableContent && several.errorCode == "multiple_faces")
            // A face darkened below the brightness gate is found but refused, with the reason.
            var dark = photo
            dark.pixels = dark.pixels.map { $0 / 8 }
            let low = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: Data(try ImageEncoder.png(dark)),
                                            contentType: "image/png")
            #expect(low.status == .unprocessableContent && low.errorCode == "low_quality", "\(low.json)")
            #expect(((low.json["error"] as? [String: Any])?["message"] as? String)?.contains("low_brightness") == true)
            // Multipart uploads work like raw bodies.
            let boundary = "argus-test-boundary"
            var form = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
            form += try ServiceHarness.photo("Hugo_Chavez/0001.jpg")
            form += Data("\r\n--\(boundary)--\r\n".utf8)
            let multipart = try await client.call(.post, "/v1/subjects/\(subject)/faces", auth: key, body: form,
                                                  contentType: "multipart/form-data; boundary=\(boundary)")
            #expect(multipart.status == .created, "\(multipart.json)")
            // The audit table has the refusals and the enrolment, and no image or template bytes.
            let outcomes = try runtime.store.auditRows().filter { $0["operation"] == "faces.enroll" }.compactMap { $0["outcome"] }
            #expect(outcomes.contains("no_face") && outcomes.contains("multiple_faces") && outcomes.contains("low_quality") && outcomes.contains("enrolled"))
            // Only the multipart enrolment was stored.
            let stored = try await client.call(.get, "/v1/subjects/\(subject)", auth: key)
            #expect((stored.json["faces"] as? [String])?.count == 1)
        }
    }

    @Test("the token bucket answers 429 per credential")
    func rateLimit() async throws {
        try await ServiceHarness.withService(tweak: { $0.rateLimitPerSecond = 0.001; $0.rateLimitBurst = 3 }) { runtime, client in
            let key = try #require(runtime.firstKey)
            for _ in 0..<3 { #expect(try await client.call(.get, "/v1/ping", auth: key).status == .ok) }
            let limited = try await client.call(.get, "/v1/ping", auth: key)
            #expect(limited.status == .tooManyRequests && limited.errorCode == "rate_limited")
            #expect(try await client.call(.get, "/healthz").status == .ok)
        }
    }

    @Test("/openapi.json lists every route the router serves, and /metrics and JWKS answer")
    func openAPI() async throws {
        try await ServiceHarness.withService { runtime, client in
            let doc = try await client.call(.get, "/openapi.json")
            #expect(doc.json["openapi"] as? String == "3.1.0")
            let paths = try #require(doc.json["paths"] as? [String: [String: Any]])
            let routes: [(String, String)] = [
                ("get", "/healthz"), ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/.well-known/jwks.json"), ("get", "/v1/ping"),
                ("post", "/v1/keys"), ("get", "/v1/keys"), ("post", "/v1/keys/{id}/roll"), ("delete", "/v1/keys/{id}"),
                ("post", "/v1/subjects"), ("get", "/v1/subjects"), ("get", "/v1/subjects/{id}"), ("delete", "/v1/subjects/{id}"),
                ("post", "/v1/subjects/{id}/faces"), ("delete", "/v1/subjects/{id}/faces/{face_id}"), ("post", "/v1/verify"),
                ("post", "/v1/identify"), ("post", "/v1/sessions"), ("delete", "/v1/sessions/{id}"), ("get", "/v1/galleries"),
                ("post", "/v1/keys/{id}/signers"), ("get", "/v1/keys/{id}/signers"), ("delete", "/v1/keys/{id}/signers/{signer_id}"),
                ("patch", "/v1/keys/{id}"), ("post", "/v1/auth/action/init"), ("post", "/v1/auth/action"), ("post", "/v1/app_keys"),
                ("get", "/v1/app_keys"), ("get", "/v1/operator/tenants"), ("post", "/v1/operator/tenants"),
                ("post", "/v1/operator/tenants/{id}/suspend"), ("post", "/v1/operator/tenants/{id}/resume"),
                ("get", "/v1/sessions/{id}"), ("get", "/v1/sessions"),
                ("post", "/v1/customer_keys"), ("get", "/v1/customer_keys"), ("delete", "/v1/customer_keys/{id}"),
                ("get", "/v1/settings"), ("patch", "/v1/settings"), ("get", "/v1/customer/subject"), ("post", "/v1/customer/faces"),
                ("post", "/v1/webhook_endpoints"), ("get", "/v1/webhook_endpoints"), ("get", "/v1/webhook_endpoints/{id}"),
                ("patch", "/v1/webhook_endpoints/{id}"), ("delete", "/v1/webhook_endpoints/{id}"), ("post", "/v1/webhook_endpoints/{id}/roll_secret"),
                ("get", "/v1/webhook_endpoints/{id}/deliveries"), ("get", "/v1/events/ws"),
            ]
            for (method, path) in routes { #expect(paths[path]?[method] != nil, "\(method) \(path) missing from openapi.json") }
            let documented = paths.flatMap { p in p.value.keys.map { ($0, p.key) } }
            #expect(documented.count == routes.count)
            // Each documented route answers something other than "no such route".
            let key = try #require(runtime.firstKey)
            for (method, path) in routes {
                let uri = path.replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{face_id}", with: "y")
                    .replacingOccurrences(of: "{signer_id}", with: "z")
                let reply = try await client.call(HTTPRequest.Method(rawValue: method.uppercased())!, uri, auth: key)
                #expect(!(reply.status == .notFound && (reply.json["error"] as? [String: Any])?["message"].map { "\($0)".hasPrefix("route") } == true),
                        "\(method) \(path) is not routed")
            }
            let metrics = try await client.call(.get, "/metrics", auth: key)
            #expect(metrics.status == .ok)
            #expect(try await client.call(.get, "/metrics").status == .unauthorized)
            let jwks = try await client.call(.get, "/.well-known/jwks.json")
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            #expect(keys.count == 1 && keys.first?["crv"] as? String == "Ed25519" && keys.first?["d"] == nil)
        }
    }
}

/// A shrunken copy, for a face too small to enrol.
enum DlibResizeShim {
    static func shrink(_ image: RGBImage, to width: Int) -> RGBImage {
        image.resized(width: width, height: max(1, image.height * width / image.width))
    }
}
