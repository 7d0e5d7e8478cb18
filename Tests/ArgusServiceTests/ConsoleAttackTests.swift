import ArgusStore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import ArgusService

/// The console's forms attacked over real HTTP: what a review found, held to its fixes.
@Suite("Console: log-in limits, CSRF binding, sign-up races, hash floods", .serialized)
struct ConsoleAttackTests {
    struct Page: @unchecked Sendable {
        // @unchecked: an immutable value.
        let status: HTTPResponse.Status
        let body: String
        let cookies: [String: String]
        let location: String?
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, cookies: [String: String] = [:]) async throws -> Page {
        try await send(client, .get, uri, form: nil, cookies: cookies)
    }

    static func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, form: [String: String]?,
                     cookies: [String: String] = [:], headers extra: HTTPFields = [:]) async throws -> Page {
        var headers = extra
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            body = ByteBuffer(string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&"))
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
            var jar: [String: String] = [:]
            for field in response.headers[values: .setCookie] {
                let kv = field.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                if kv.count == 2 { jar[String(kv[0])] = String(kv[1]) }
            }
            return Page(status: response.status, body: String(buffer: response.body), cookies: jar, location: response.headers[.location])
        }
    }

    static func csrf(_ html: String) -> String? {
        guard let r = html.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression) else { return nil }
        return String(html[r].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    /// A pre-login form's cookie and field.
    static func preLogin(_ client: some TestClientProtocol, _ path: String) async throws -> (cookies: [String: String], field: String) {
        let page = try await get(client, path)
        return (page.cookies, try #require(csrf(page.body)))
    }

    static func signUp(_ client: some TestClientProtocol, email: String, name: String = "Org") async throws -> Page {
        let (cookies, field) = try await preLogin(client, "/console/signup")
        return try await send(client, .post, "/console/signup", form: ["csrf": field, "email": email, "password": "correct horse battery", "tenant_name": name],
                              cookies: cookies)
    }

    /// Thirty wrong guesses for one account at once, on separate connections, and meanwhile a `/v1/ping`
    /// on a connection of its own: the statuses of all 31 (the ping's is its HTTP status) and the ping's
    /// wall-clock time. (TimingTests asserts that time, run alone.)
    static func loginFlood(_ runtime: ArgusServiceRuntime, _ client: any TestClientProtocol, cookies: [String: String], field: String)
        async throws -> (statuses: [HTTPResponse.Status], ping: TimeInterval) {
        let sk = try #require(runtime.firstKey)
        let port = try #require(client.port)
        // Separate connections, really at once (the test client would queue them on one).
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration)
        let cookieHeader = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        let results = try await withThrowingTaskGroup(of: (status: HTTPResponse.Status, ping: TimeInterval?).self) { group in
            for _ in 0..<30 {
                group.addTask {
                    var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/console/login")!)
                    r.httpMethod = "POST"
                    r.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                    r.setValue(cookieHeader, forHTTPHeaderField: "Cookie")
                    r.httpBody = Data("csrf=\(field)&email=victim%40a.test&password=wrong".utf8)
                    let (_, response) = try await session.data(for: r)
                    return (HTTPResponse.Status(code: (response as? HTTPURLResponse)?.statusCode ?? 0), nil)
                }
            }
            // Meanwhile the API answers, on a connection of its own: hashing has a thread of its own.
            group.addTask {
                try await Task.sleep(for: .milliseconds(150))
                var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/ping")!)
                r.setValue("Bearer \(sk)", forHTTPHeaderField: "Authorization")
                let t = Date()
                let (_, response) = try await session.data(for: r)
                let took = Date().timeIntervalSince(t)
                print("ping during the log-in flood: \(took) s")
                return (HTTPResponse.Status(code: (response as? HTTPURLResponse)?.statusCode ?? 0), took)
            }
            return try await group.reduce(into: [(status: HTTPResponse.Status, ping: TimeInterval?)]()) { $0.append($1) }
        }
        return (results.map(\.status), results.compactMap(\.ping).first ?? .infinity)
    }

    @Test("concurrent wrong guesses are limited before the hash; a NUL suffix is no way around the limit; the API answers meanwhile")
    func loginLimits() async throws {
        try await ServiceHarness.withService(tweak: { $0.openSignup = true }) { runtime, client in
            #expect(try await Self.signUp(client, email: "victim@a.test").status == .ok)
            let (cookies, field) = try await Self.preLogin(client, "/console/login")
            let (statuses, _) = try await Self.loginFlood(runtime, client, cookies: cookies, field: field)
            #expect(statuses.count == 31)
            #expect(statuses.filter { $0 == .ok }.count == 1, "the ping answered 200")
            #expect(!statuses.contains(.internalServerError))
            let checked = statuses.filter { $0 == .unauthorized }.count
            #expect(checked <= 5, "\(checked) guesses were checked")
            #expect(statuses.filter { $0 == .tooManyRequests || $0 == .serviceUnavailable }.count >= 25)
            // A NUL suffix makes an empty e-mail, not another account key.
            let nul = try await Self.send(client, .post, "/console/login", form: ["csrf": field, "email": "victim@a.test\u{0}zz", "password": "correct horse battery"],
                                          cookies: cookies, headers: [:])
            #expect(nul.status != .seeOther && nul.cookies["argus_session"] == nil)
        }
    }

    @Test("a planted pre-login cookie with its own field, a cross-site post, and a neighbouring origin are refused")
    func csrfBinding() async throws {
        try await ServiceHarness.withService(tweak: { $0.openSignup = true }) { _, client in
            let planted = String(repeating: "A", count: 43)
            let forged = try await Self.send(client, .post, "/console/signup", form: ["csrf": planted, "email": "x@y.test", "password": "correct horse battery",
                                                                                     "tenant_name": "X"], cookies: ["argus_csrf": planted])
            #expect(forged.status == .forbidden)
            let (cookies, field) = try await Self.preLogin(client, "/console/signup")
            let crossSite = try await Self.send(client, .post, "/console/signup", form: ["csrf": field, "email": "x@y.test", "password": "correct horse battery",
                                                                                        "tenant_name": "X"], cookies: cookies,
                                                headers: [HTTPField.Name("sec-fetch-site")!: "same-site"])
            #expect(crossSite.status == .forbidden)
            let otherOrigin = try await Self.send(client, .post, "/console/signup", form: ["csrf": field, "email": "x@y.test", "password": "correct horse battery",
                                                                                          "tenant_name": "X"], cookies: cookies,
                                                  headers: [HTTPField.Name("origin")!: "http://127.0.0.1:1"])
            #expect(otherOrigin.status == .forbidden)
            #expect(try await Self.send(client, .post, "/console/signup", form: ["csrf": field, "email": "x@y.test", "password": "correct horse battery",
                                                                                "tenant_name": "X"], cookies: cookies).status == .ok)
        }
    }

    @Test("eight concurrent sign-ups with one e-mail make one tenant; an invitation into a suspended tenant is refused and kept")
    func signupRaces() async throws {
        try await ServiceHarness.withService(tweak: { $0.openSignup = true }) { runtime, client in
            let before = try runtime.store.tenants().count
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 { group.addTask { try await Self.signUp(client, email: "race@a.test").status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(try runtime.store.tenants().count == before + 1)
            // An invitation into a tenant that is then suspended.
            let owner = try #require(try runtime.store.user(email: "race@a.test"))
            let token = "tok" + String(repeating: "x", count: 40)
            try runtime.store.createInvite(InviteRecord(digest: ConsolePages.digest(token), tenantID: owner.tenantID, role: .owner,
                                                        expiresAt: Date().addingTimeInterval(600)), createdBy: owner.id)
            #expect(try runtime.store.setTenantStatus(id: owner.tenantID, status: .suspended))
            let (cookies, field) = try await Self.preLogin(client, "/console/invite/\(token)")
            let joined = try await Self.send(client, .post, "/console/invite/\(token)", form: ["csrf": field, "email": "late@a.test", "password": "correct horse battery"],
                                             cookies: cookies)
            #expect(joined.status == .forbidden)
            #expect(try runtime.store.user(email: "late@a.test") == nil && (try runtime.store.invite(digest: ConsolePages.digest(token))) != nil)
        }
    }
}
