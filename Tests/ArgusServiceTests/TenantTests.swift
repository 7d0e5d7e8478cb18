import ArgusStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ArgusService

/// Tenants, operator keys and suspension, over real HTTP.
@Suite("Tenants: operator API, suspension, isolation")
struct TenantTests {
    @Test("an operator key manages tenants and nothing else; tenant keys never reach the operator API")
    func operatorAPI() async throws {
        try await ServiceHarness.withService { runtime, client in
            let sk = try #require(runtime.firstKey)
            let op = try runtime.store.createOperatorKey(name: "ops").secret
            let created = try await client.call(.post, "/v1/operator/tenants", auth: op, json: ["name": "Acme"])
            #expect(created.status == .created)
            let tenantKey = try #require(created.json["secret_key"] as? String)
            let tenantID = try #require(created.json["id"] as? String)
            let ping = try await client.call(.get, "/v1/ping", auth: tenantKey)
            #expect(ping.status == .ok && ping.json["tenant"] as? String == tenantID)
            let listed = try await client.call(.get, "/v1/operator/tenants", auth: op)
            #expect(listed.status == .ok && ((listed.json["data"] as? [[String: Any]])?.map { $0["id"] as? String } ?? []).contains(tenantID))
            // Tenant credentials are refused on operator routes; operator keys on tenant routes.
            #expect(try await client.call(.get, "/v1/operator/tenants", auth: sk).errorCode == "insufficient_scope")
            #expect(try await client.call(.post, "/v1/operator/tenants/\(tenantID)/suspend", auth: tenantKey).errorCode == "insufficient_scope")
            for (method, path) in [(HTTPRequest.Method.get, "/v1/subjects"), (.post, "/v1/subjects"), (.get, "/v1/keys"), (.get, "/v1/ping"),
                                   (.post, "/v1/identify"), (.get, "/metrics")] {
                let reply = try await client.call(method, path, auth: op, json: method == .post ? [:] : nil)
                #expect(reply.status == .forbidden, "\(method) \(path): \(reply.status)")
            }
            #expect(try await client.call(.get, "/v1/operator/tenants", auth: "op_" + String(repeating: "x", count: 33)).status == .unauthorized)
        }
    }

    @Test("suspending a tenant stops its keys and sessions on the next request, without a restart; resuming restores them")
    func suspension() async throws {
        try await ServiceHarness.withService { runtime, client in
            let (tenant, key) = try Tenancy.create(name: "Beta", in: runtime.store)
            let subject = try #require(try await client.call(.post, "/v1/subjects", auth: key.secret, json: [:]).json["id"] as? String)
            let session = try await client.call(.post, "/v1/sessions", auth: key.secret,
                                                json: ["customer_ref": "c", "purpose": "verify", "subject_id": subject])
            let token = try #require(session.json["token"] as? String)
            #expect(try await client.call(.get, "/v1/ping", auth: key.secret).status == .ok)
            // What `argus tenants suspend` does, on the store, while the server runs.
            #expect(try runtime.store.setTenantStatus(id: tenant.id, status: .suspended))
            let refused = try await client.call(.get, "/v1/ping", auth: key.secret)
            #expect(refused.status == .forbidden && refused.errorCode == "tenant_suspended")
            let tokenRefused = try await client.call(.post, "/v1/verify", auth: token, json: ["subject_id": subject, "image": "AAAA"])
            #expect(tokenRefused.status == .forbidden && tokenRefused.errorCode == "tenant_suspended")
            // Another tenant is untouched.
            #expect(try await client.call(.get, "/v1/ping", auth: try #require(runtime.firstKey)).status == .ok)
            #expect(try runtime.store.setTenantStatus(id: tenant.id, status: .active))
            #expect(try await client.call(.get, "/v1/ping", auth: key.secret).status == .ok)
        }
    }

    @Test("another tenant's ids answer exactly as ids that never existed")
    func isolation() async throws {
        try await ServiceHarness.withService { runtime, client in
            let a = try #require(runtime.firstKey)
            let (_, b) = try Tenancy.create(name: "B", in: runtime.store)
            let bSubject = try #require(try await client.call(.post, "/v1/subjects", auth: b.secret, json: ["external_id": "b1"]).json["id"] as? String)
            let bKeyID = b.credential.id
            for (method, path) in [(HTTPRequest.Method.get, "/v1/subjects/\(bSubject)"), (.delete, "/v1/subjects/\(bSubject)"),
                                   (.post, "/v1/keys/\(bKeyID)/roll"), (.delete, "/v1/keys/\(bKeyID)"), (.get, "/v1/keys/\(bKeyID)/signers")] {
                let foreign = try await client.call(method, path, auth: a, json: method == .post ? [:] : nil)
                let unknown = try await client.call(method, path.replacingOccurrences(of: bSubject, with: "sub_never").replacingOccurrences(of: bKeyID, with: "key_never"),
                                                    auth: a, json: method == .post ? [:] : nil)
                #expect(foreign.status == .notFound && foreign.status == unknown.status, "\(method) \(path)")
                #expect((foreign.json["error"] as? [String: Any])?["message"] as? String == (unknown.json["error"] as? [String: Any])?["message"] as? String)
            }
            let listed = try await client.call(.get, "/v1/subjects?external_id=b1", auth: a)
            #expect(listed.status == .ok && (listed.json["data"] as? [Any])?.isEmpty == true)
            #expect(try await client.call(.get, "/v1/subjects/\(bSubject)", auth: b.secret).status == .ok)
        }
    }
}
