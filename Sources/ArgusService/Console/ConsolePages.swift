import ArgusStore
import Crypto
import HTTPTypes
public import Foundation
public import Hummingbird
import Mustache

/// Rendering and the console's session plumbing: cookies, CSRF tokens, headers, redirects.
struct ConsolePages: Sendable {
    let library: MustacheLibrary
    let secureCookies: Bool
    /// Signs pre-login CSRF nonces; new with every process (an open form then simply asks again).
    private let csrfKey = SymmetricKey(size: .bits256)

    func csrfField(nonce: String) -> String {
        Secrets.base64URL(Array(HMAC<SHA256>.authenticationCode(for: Data(nonce.utf8), using: csrfKey)))
    }

    init(secureCookies: Bool) {
        var library = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all {
            // The templates are constants of this module: a parse error is a programming error caught by every console test.
            try? library.register(text, named: name)
        }
        self.library = library
        self.secureCookies = secureCookies
    }

    static let sessionCookie = "argus_session"
    static let csrfCookie = "argus_csrf"
    static let sessionLifetime: TimeInterval = 12 * 3600

    /// Who is signed in, resolved from the session cookie.
    struct Signed: Sendable {
        let user: UserRecord
        let tenant: TenantRecord
        let session: ConsoleSessionRecord
        var mode: Mode { session.mode }
        var canKeys: Bool { user.role != .viewer }
        var canWrite: Bool { user.role != .viewer }
    }

    static func digest(_ secret: String) -> String { Secrets.hex(Secrets.digest(secret)) }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/console; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secureCookies ? "; Secure" : "")
    }

    func headers(status: HTTPResponse.Status = .ok) -> HTTPFields {
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=utf-8"
        // No script runs in the console, whatever a page contains.
        h[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        h[.xFrameOptions] = "DENY"
        // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts.
        h[.referrerPolicy] = "same-origin"
        h[.cacheControl] = "no-store"
        h[.xContentTypeOptions] = "nosniff"
        return h
    }

    /// A page: `template` rendered with `values`, inside the layout.
    func page(_ template: String, title: String, _ values: [String: Any], signed: Signed?, status: HTTPResponse.Status = .ok,
              cookies: [String] = []) -> Response {
        var context = values
        if let signed { context["csrf"] = signed.session.csrf }
        let body = library.render(context, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let s = signed {
            let other: Mode = s.mode == .test ? .live : .test
            layout["user"] = [
                "email": s.user.email, "role": s.user.role.rawValue, "tenantName": s.tenant.name, "mode": s.mode.rawValue,
                "modeLabel": s.mode == .test ? "TEST MODE" : "LIVE MODE", "otherMode": other.rawValue, "csrf": s.session.csrf,
                "canKeys": s.canKeys, "isOwner": s.user.role == .owner,
                "navKeys": template == "keys" ? "on" : "", "navSessions": template == "sessions" ? "on" : "",
                "navSubjects": template == "subjects" ? "on" : "", "navAudit": template == "audit" ? "on" : "", "navTeam": template == "team" ? "on" : "",
            ] as [String: Any]
        }
        var h = headers(status: status)
        for c in cookies { h.append(HTTPField(name: .setCookie, value: c)) }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func message(_ heading: String, _ text: String, signed: Signed?, status: HTTPResponse.Status) -> Response {
        page("message", title: heading, ["heading": heading, "text": text], signed: signed, status: status)
    }

    func redirect(_ location: String, cookies: [String] = []) -> Response {
        var h = headers(status: .seeOther)
        h[.location] = location
        for c in cookies { h.append(HTTPField(name: .setCookie, value: c)) }
        return Response(status: .seeOther, headers: h)
    }

    static func iso(_ date: Date?) -> String {
        guard let date else { return "—" }
        return ISO8601DateFormatter().string(from: date)
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = HTTPField.Name("content-security-policy")!
    static let xFrameOptions = HTTPField.Name("x-frame-options")!
    static let referrerPolicy = HTTPField.Name("referrer-policy")!
    static let xContentTypeOptions = HTTPField.Name("x-content-type-options")!
    static let secFetchSite = HTTPField.Name("sec-fetch-site")!
    static let origin = HTTPField.Name("origin")!
}
