import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ArgusService

/// Router-level tests (no socket): every operation of openapi.json, called as a caller without
/// the right credential and as the secret key with empty and hostile bodies, answers a documented
/// status in a documented shape (checked by `OpenAPIValidator` on every reply), never a 5xx.
@Suite("Router: every documented operation, without a socket")
struct RouterTests {
    /// (method, concrete path) of every operation, path parameters filled with unknown ids.
    static var operations: [(HTTPRequest.Method, String, [String: Any])] {
        let doc = OpenAPIValidator.shared.document
        var out: [(HTTPRequest.Method, String, [String: Any])] = []
        for (path, item) in (doc["paths"] as? [String: Any]) ?? [:] {
            for (method, op) in (item as? [String: Any]) ?? [:] {
                guard let m = HTTPRequest.Method(method.uppercased()), let op = op as? [String: Any] else { continue }
                let concrete = path.replacingOccurrences(of: "{id}", with: "sub_unknown").replacingOccurrences(of: "{face_id}", with: "face_unknown")
                    .replacingOccurrences(of: "{signer_id}", with: "sgn_unknown")
                out.append((m, concrete, op))
            }
        }
        return out.sorted { ($0.1, $0.0.rawValue) < ($1.1, $1.0.rawValue) }
    }

    @Test("the document lists every route the router has, each with its scope and errors")
    func documentIsComplete() throws {
        let ops = Self.operations
        #expect(ops.count == 49)
        for (method, path, op) in ops {
            let responses = try #require(op["responses"] as? [String: Any], "\(method) \(path)")
            #expect(responses["default"] != nil, "\(method) \(path) has no default error")
            #expect(responses.keys.contains { $0.hasPrefix("2") || $0 == "101" }, "\(method) \(path) has no success")
            if (op["security"] as? [Any])?.isEmpty != true {
                #expect(responses["401"] != nil && responses["403"] != nil && responses["429"] != nil, "\(method) \(path)")
            }
        }
    }

    @Test("without credentials every protected operation is 401; public ones answer 200")
    func unauthenticated() async throws {
        try await ServiceHarness.withRouter { _, client in
            var protected = 0
            for (method, path, op) in Self.operations {
                let reply = try await client.call(method, path)
                if (op["security"] as? [Any])?.isEmpty == true {
                    #expect(reply.status == .ok, "\(method) \(path)")
                } else {
                    protected += 1
                    #expect(reply.status == .unauthorized && reply.errorCode == "missing_credentials", "\(method) \(path): \(reply.status)")
                }
            }
            #expect(protected == 46)
        }
    }

    @Test("a known path with another method is 405 naming the allowed methods; an unknown path is 404")
    func methodNotAllowed() async throws {
        try await ServiceHarness.withRouter { runtime, client in
            let sk = try #require(runtime.firstKey)
            let trace = try await client.call(.init("TRACE")!, "/healthz")
            #expect(trace.status == .methodNotAllowed && trace.errorCode == "method_not_allowed" && trace.headers[.allow] == "GET")
            let put = try await client.call(.put, "/v1/subjects/sub_x", auth: sk)
            #expect(put.status == .methodNotAllowed && put.headers[.allow] == "DELETE, GET")
            let unknown = try await client.call(.get, "/v1/nothing", auth: sk)
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
        }
    }

    @Test("with the secret key and empty, wrong-typed and oversized bodies: documented answers, no 5xx")
    func hostileBodies() async throws {
        try await ServiceHarness.withRouter(tweak: { $0.rateLimitBurst = 10_000 }) { runtime, client in
            let sk = try #require(runtime.firstKey)
            let bodies: [[String: Any]?] = [nil, [:], ["image": 5, "subject_id": [1], "top_k": "x", "scopes": "all", "external_id": 7, "purpose": "nope"],
                                            ["image": String(repeating: "A", count: 4096), "threshold": 2, "expires_in": -1, "ttl": 0],
                                            ["subject_ids": Array(repeating: "s", count: 10_001), "gallery": "../etc"]]
            var calls = 0
            for (method, path, _) in Self.operations {
                for body in bodies {
                    let reply = try await client.call(method, path, auth: sk, json: method == .get || method == .delete ? nil : body)
                    calls += 1
                    #expect(reply.status.code < 500 && reply.status != .tooManyRequests, "\(method) \(path) \(String(describing: body?.keys.sorted())): \(reply.status) \(reply.json)")
                }
            }
            #expect(calls >= 90)
            // Nothing was created by any of it but what the secret key asked for with valid bodies.
            #expect(runtime.galleries.totalFaces == 0)
        }
    }
}
