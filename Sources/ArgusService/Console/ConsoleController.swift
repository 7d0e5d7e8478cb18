import ArgusEnrollment
import ArgusStore
import Crypto
import HTTPTypes
public import Foundation
public import Hummingbird

/// The web console under `/console`: sign-up and log-in by e-mail and password, then API keys,
/// sessions, subjects, the audit log and the team of the signed-in user's tenant, in the mode the
/// switch on every page shows. Keys are made, rolled and revoked by the same store functions as
/// `/v1/keys`. Every state-changing form carries a CSRF token; the session cookie is HttpOnly and
/// SameSite=Strict, and a new one is issued at every log-in.
struct ConsoleController: Sendable {
    let store: any Store
    let galleries: Galleries
    let pages: ConsolePages
    let openSignup: Bool
    /// Log-in attempts, spent before the password is checked and given back when it is right: per
    /// account and address (5, then one per 30 s), per address (20, then one per 2 s), and per account
    /// from anywhere (30, then one per 10 s: the backstop against many addresses; a victim can be
    /// locked out only by that many wrong guesses, sustained).
    let attemptsByPair = RateLimiter(rate: 1.0 / 30, burst: 5)
    let attemptsByAddress = RateLimiter(rate: 0.5, burst: 20)
    let attemptsByAccount = RateLimiter(rate: 0.1, burst: 30)
    /// Sign-ups and invitation acceptances per address (each costs a tenant or a user and a hash).
    let signupsByAddress = RateLimiter(rate: 1.0 / 60, burst: 5)
    static let inviteLifetime: TimeInterval = 7 * 24 * 3600

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.get("/console") { request, _ in try home(request) }
        router.get("/console/signup") { request, _ in try signupForm(request, error: nil) }
        router.post("/console/signup") { request, context in try await signup(request, context) }
        router.get("/console/login") { request, _ in try loginForm(request, error: nil) }
        router.post("/console/login") { request, context in try await login(request, context) }
        router.post("/console/logout") { request, _ in try await logout(request) }
        router.post("/console/mode") { request, _ in try await switchMode(request) }
        router.get("/console/keys") { request, _ in try await signed(request, keys: true) { s in keysPage(s, nil) } }
        router.post("/console/keys") { request, context in try await createKey(request, context) }
        router.post("/console/keys/:id/roll") { request, context in try await rollKey(request, context) }
        router.post("/console/keys/:id/revoke") { request, context in try await revokeKey(request, context) }
        router.get("/console/sessions") { request, _ in try await signed(request) { s in try sessionsPage(s) } }
        router.post("/console/sessions/:id/revoke") { request, context in try await revokeSession(request, context) }
        router.get("/console/subjects") { request, _ in try await signed(request) { s in try subjectsPage(s, request) } }
        router.post("/console/subjects/:id/delete") { request, context in try await deleteSubject(request, context) }
        router.get("/console/audit") { request, _ in try await signed(request) { s in try auditPage(s, request) } }
        router.get("/console/team") { request, _ in try await signed(request, owner: true) { s in try teamPage(s, link: nil) } }
        router.post("/console/team/invite") { request, context in try await invite(request, context) }
        router.get("/console/invite/:token") { request, context in try inviteForm(request, context, error: nil) }
        router.post("/console/invite/:token") { request, context in try await acceptInvite(request, context) }
        router.get("/console/password") { request, _ in try await signed(request) { s in pages.page("password", title: "Password", [:], signed: s) } }
        router.post("/console/password") { request, context in try await changePassword(request, context) }
    }

    // MARK: who is signed in

    func current(_ request: Request) throws -> ConsolePages.Signed? {
        guard let secret = Cookies.parse(request.headers[.cookie])[ConsolePages.sessionCookie], secret.count <= 128,
              let session = try store.consoleSession(digest: ConsolePages.digest(secret)),
              let user = try store.user(id: session.userID), let tenant = try store.tenant(id: user.tenantID) else { return nil }
        return ConsolePages.Signed(user: user, tenant: tenant, session: session)
    }

    /// Runs `body` for a signed-in user allowed on the page; otherwise the log-in page or a 403.
    func signed(_ request: Request, keys: Bool = false, owner: Bool = false,
                _ body: (ConsolePages.Signed) async throws -> Response) async throws -> Response {
        guard let s = try current(request) else { return pages.redirect("/console/login") }
        if s.tenant.status != .active {
            return pages.message("Suspended", "This organisation is suspended.", signed: nil, status: .forbidden)
        }
        if keys && !s.canKeys { return pages.message("Not allowed", "Viewers cannot see or create keys.", signed: s, status: .forbidden) }
        if owner && s.user.role != .owner { return pages.message("Not allowed", "Only owners manage the team.", signed: s, status: .forbidden) }
        return try await body(s)
    }

    /// A state-changing form of a signed-in user: the body, after its CSRF token is checked.
    func signedForm(_ request: Request, keys: Bool = false, owner: Bool = false, write: Bool = false,
                    _ body: (ConsolePages.Signed, Form) async throws -> Response) async throws -> Response {
        let form = try await self.form(request)
        return try await signed(request, keys: keys, owner: owner) { s in
            guard Self.sameOrigin(request), let token = form["csrf"], Secrets.constantTimeEqual(Data(token.utf8), Data(s.session.csrf.utf8)) else {
                return pages.message("Refused", "The form's CSRF token is missing or wrong.", signed: s, status: .forbidden)
            }
            if write && !s.canWrite { return pages.message("Not allowed", "Viewers cannot change anything.", signed: s, status: .forbidden) }
            return try await body(s, form)
        }
    }

    func form(_ request: Request) async throws -> Form {
        guard (request.headers[.contentType] ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded") else { return Form([]) }
        do {
            return Form(Array(try await request.body.collect(upTo: Form.maxBytes).readableBytesView))
        } catch {
            return Form([])
        }
    }

    // MARK: pre-login forms (double-submit CSRF cookie)

    /// The pre-login CSRF token: the form field is an HMAC (a key of this process) of the cookie's
    /// nonce, so a cookie planted by a neighbouring origin comes with no field that matches it.
    func preLoginToken(_ request: Request) -> (token: String, cookies: [String]) {
        if let nonce = Cookies.parse(request.headers[.cookie])[ConsolePages.csrfCookie], nonce.count == 43 { return (pages.csrfField(nonce: nonce), []) }
        let nonce = Secrets.base64URL(Secrets.randomBytes(32))
        return (pages.csrfField(nonce: nonce), [pages.cookie(ConsolePages.csrfCookie, nonce, maxAge: 3600)])
    }

    func preLoginCSRF(_ request: Request, _ form: Form) -> Bool {
        guard Self.sameOrigin(request), let nonce = Cookies.parse(request.headers[.cookie])[ConsolePages.csrfCookie], nonce.count == 43,
              let field = form["csrf"] else { return false }
        return Secrets.constantTimeEqual(Data(pages.csrfField(nonce: nonce).utf8), Data(field.utf8))
    }

    /// A form posted from this very origin: browsers say so in `Sec-Fetch-Site` and `Origin`.
    static func sameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[.secFetchSite], site != "same-origin", site != "none" { return false }
        if let origin = request.headers[.origin], let authority = request.head.authority,
           origin != "http://\(authority)", origin != "https://\(authority)" { return false }
        return true
    }

    func home(_ request: Request) throws -> Response {
        guard let s = try current(request) else { return pages.redirect("/console/login") }
        return pages.redirect(s.canKeys ? "/console/keys" : "/console/sessions")
    }

    func signupForm(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) throws -> Response {
        let invite = String((request.uri.queryParameters.get("invite") ?? "").prefix(64))
        if !openSignup {
            guard !invite.isEmpty, let record = try store.invite(digest: ConsolePages.digest(invite)), record.tenantID == nil else {
                return pages.message("Sign-up is by invitation", "Ask the operator of this Argus for an invitation link.", signed: nil, status: .forbidden)
            }
        }
        let (token, cookies) = preLoginToken(request)
        var values: [String: Any] = ["csrf": token, "invite": invite]
        if let error { values["error"] = error }
        return pages.page("signup", title: "Sign up", values, signed: nil, status: status, cookies: cookies)
    }

    func loginForm(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) throws -> Response {
        let (token, cookies) = preLoginToken(request)
        var values: [String: Any] = ["csrf": token]
        if let error { values["error"] = error }
        return pages.page("login", title: "Log in", values, signed: nil, status: status, cookies: cookies)
    }

    static func validEmail(_ e: String) -> Bool {
        let parts = e.split(separator: "@")
        return (3...254).contains(e.utf8.count) && parts.count == 2 && parts[1].contains(".") && !e.contains(where: { $0.isWhitespace })
    }

    /// A new console session for `user`: the cookie to set (the pre-login CSRF cookie is dropped).
    func startSession(_ user: UserRecord, mode: Mode = .test) throws -> [String] { try newSession(user, mode: mode).cookies }

    func newSession(_ user: UserRecord, mode: Mode) throws -> (session: ConsoleSessionRecord, cookies: [String]) {
        let secret = Secrets.base64URL(Secrets.randomBytes(32))
        let session = ConsoleSessionRecord(digest: ConsolePages.digest(secret), userID: user.id, csrf: Secrets.base64URL(Secrets.randomBytes(32)),
                                           mode: mode, expiresAt: Date().addingTimeInterval(ConsolePages.sessionLifetime))
        try store.createConsoleSession(session)
        return (session, [pages.cookie(ConsolePages.sessionCookie, secret, maxAge: Int(ConsolePages.sessionLifetime)),
                          pages.cookie(ConsolePages.csrfCookie, "", maxAge: 0)])
    }

    func endCurrentSession(_ request: Request) throws {
        if let secret = Cookies.parse(request.headers[.cookie])[ConsolePages.sessionCookie], secret.count <= 128 {
            try store.endConsoleSession(digest: ConsolePages.digest(secret))
        }
    }

    func signup(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let form = try await self.form(request)
        guard preLoginCSRF(request, form) else {
            return pages.message("Refused", "The form's CSRF token is missing or wrong.", signed: nil, status: .forbidden)
        }
        let invite = String((form["invite"] ?? "").prefix(64))
        if !openSignup {
            guard !invite.isEmpty, let record = try store.invite(digest: ConsolePages.digest(invite)), record.tenantID == nil else {
                return pages.message("Sign-up is by invitation", "Ask the operator of this Argus for an invitation link.", signed: nil, status: .forbidden)
            }
        }
        let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let password = form["password"] ?? "", name = (form["tenant_name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard Self.validEmail(email) else { return try signupForm(request, error: "Enter a valid e-mail address.", status: .badRequest) }
        guard (10...256).contains(password.count), password.utf8.count <= 1024 else {
            return try signupForm(request, error: "Passwords have 10 to 256 characters.", status: .badRequest)
        }
        guard (1...200).contains(name.utf8.count) else { return try signupForm(request, error: "Name your organisation (1 to 200 characters).", status: .badRequest) }
        guard try store.user(email: email) == nil else { return try signupForm(request, error: "An account with this e-mail exists.", status: .conflict) }
        guard signupsByAddress.allow(context.clientAddress) else {
            return try signupForm(request, error: "Too many sign-ups from this address: wait a minute.", status: .tooManyRequests)
        }
        let hash: String
        do { hash = try await PasswordHash.make(password) } catch is PasswordHash.Busy { return busy() }
        // Invitation, tenant, owner and first key in one transaction: a race leaves nothing half made.
        let tenant: TenantRecord, user: UserRecord, key: IssuedCredential
        do {
            (tenant, user, key) = try store.signUp(tenantName: name, email: email, passwordHash: hash, inviteDigest: openSignup ? nil : ConsolePages.digest(invite))
        } catch StoreError.conflict {
            return try signupForm(request, error: "An account with this e-mail exists.", status: .conflict)
        } catch StoreError.invalid {
            return pages.message("Sign-up is by invitation", "This invitation was already used.", signed: nil, status: .forbidden)
        }
        try store.audit(AuditEntry(tenant: tenant.id, credential: "console:\(user.id)", operation: "console.signup", target: user.id,
                                   outcome: "created", requestID: context.requestID))
        try endCurrentSession(request)
        let (session, cookies) = try newSession(user, mode: .test)
        let s = ConsolePages.Signed(user: user, tenant: tenant, session: session)
        var response = keysPage(s, (key, "test-mode secret key"))
        for c in cookies { response.headers.append(HTTPField(name: .setCookie, value: c)) }
        return response
    }

    func login(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let form = try await self.form(request)
        guard preLoginCSRF(request, form) else {
            return pages.message("Refused", "The form's CSRF token is missing or wrong.", signed: nil, status: .forbidden)
        }
        let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let password = form["password"] ?? ""
        guard email.utf8.count <= 254, password.utf8.count <= 256 else { return try loginForm(request, error: "Wrong e-mail or password.", status: .unauthorized) }
        // Spent before the (slow) check, so concurrent guesses cannot all slip through; a right password gives them back.
        let pair = email + "|" + context.clientAddress
        guard attemptsByAddress.allow(context.clientAddress) else {
            return try loginForm(request, error: "Too many failed log-ins: wait a minute.", status: .tooManyRequests)
        }
        guard attemptsByPair.allow(pair) else {
            attemptsByAddress.refund(context.clientAddress)
            return try loginForm(request, error: "Too many failed log-ins: wait a minute.", status: .tooManyRequests)
        }
        guard attemptsByAccount.allow(email) else {
            attemptsByAddress.refund(context.clientAddress)
            attemptsByPair.refund(pair)
            return try loginForm(request, error: "Too many failed log-ins: wait a minute.", status: .tooManyRequests)
        }
        let user = try store.user(email: email)
        let right: Bool
        do { right = try await PasswordHash.verify(password, against: user?.passwordHash) } catch is PasswordHash.Busy {
            attemptsByAddress.refund(context.clientAddress)
            attemptsByPair.refund(pair)
            attemptsByAccount.refund(email)
            return busy()
        }
        guard right, let user else {
            try store.audit(AuditEntry(tenant: user?.tenantID, credential: nil, operation: "console.login", outcome: "refused", requestID: context.requestID))
            return try loginForm(request, error: "Wrong e-mail or password.", status: .unauthorized)
        }
        attemptsByAddress.refund(context.clientAddress)
        attemptsByPair.refund(pair)
        attemptsByAccount.refund(email)
        try endCurrentSession(request)
        try store.audit(AuditEntry(tenant: user.tenantID, credential: "console:\(user.id)", operation: "console.login", outcome: "signed_in",
                                   requestID: context.requestID))
        return pages.redirect(user.role == .viewer ? "/console/sessions" : "/console/keys", cookies: try startSession(user))
    }

    func logout(_ request: Request) async throws -> Response {
        try await signedForm(request) { _, _ in
            try endCurrentSession(request)
            return pages.redirect("/console/login", cookies: [pages.cookie(ConsolePages.sessionCookie, "", maxAge: 0)])
        }
    }

    func switchMode(_ request: Request) async throws -> Response {
        try await signedForm(request) { s, form in
            guard let mode = form["mode"].flatMap(Mode.init(rawValue:)) else { return pages.redirect("/console") }
            try store.setConsoleMode(digest: s.session.digest, mode: mode)
            return pages.redirect("/console")
        }
    }

    // MARK: keys

    func keysPage(_ s: ConsolePages.Signed, _ issued: (IssuedCredential, String)?, error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let all = (try? store.credentials(tenant: s.user.tenantID, mode: s.mode)) ?? []
        var values: [String: Any] = [
            "modeLabel": s.mode == .test ? "test mode" : "live mode",
            "scopes": Scope.allCases.map(\.rawValue),
            "keys": all.map { c -> [String: Any] in
                let status = c.revokedAt != nil ? "revoked" : (c.expiresAt.map { $0 <= Date() ? "expired" : "expires" } ?? "active")
                return ["id": c.id, "name": c.name ?? "", "kind": c.kind.rawValue, "prefix": c.displayPrefix, "last4": c.last4,
                        "scopes": c.kind == .secret ? "all" : c.scopes.map(\.rawValue).sorted().joined(separator: " "),
                        "created": ConsolePages.iso(c.createdAt), "lastUsed": ConsolePages.iso(c.lastUsedAt), "expires": ConsolePages.iso(c.expiresAt),
                        "status": status, "live": c.isLive()]
            },
        ]
        if let (issued, kind) = issued {
            values["newSecret"] = issued.secret
            values["newKind"] = kind
            if let ck = issued.clientKey { values["newClientKey"] = ck }
        }
        if let error { values["error"] = error }
        return pages.page("keys", title: "API keys", values, signed: s, status: status)
    }

    func createKey(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, keys: true) { s, form in
            let kind = Credential.Kind(rawValue: form["kind"] ?? "secret") ?? .secret
            let scopes = Set(form.all("scopes").compactMap(Scope.init(rawValue:)))
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            guard name.utf8.count <= 200 else { return keysPage(s, nil, error: "Names have at most 200 bytes.", status: .badRequest) }
            if kind != .secret && scopes.isEmpty { return keysPage(s, nil, error: "Choose scopes for restricted keys and client credentials.", status: .badRequest) }
            let issued = try store.createCredential(tenant: s.user.tenantID, mode: s.mode, kind: kind, scopes: scopes, name: name.isEmpty ? nil : name,
                                                    expiresAt: nil)
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "keys.create", target: issued.credential.id,
                                       outcome: "created", requestID: context.requestID))
            return keysPage(s, (issued, kind == .secret ? "\(s.mode.rawValue)-mode secret key" : kind == .client ? "client secret" : "restricted key"))
        }
    }

    /// A key of the signed-in tenant and mode; any other id is a 404 page, like an unknown one.
    func ownKey(_ s: ConsolePages.Signed, _ context: ArgusRequestContext) throws -> Credential? {
        guard let id = context.parameters.get("id"), let c = try store.credential(id: id), c.tenantID == s.user.tenantID, c.mode == s.mode else { return nil }
        return c
    }

    func rollKey(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, keys: true) { s, form in
            guard let c = try ownKey(s, context) else { return pages.message("Not found", "No such key.", signed: s, status: .notFound) }
            guard let overlap = Int(form["expires_in"] ?? "0"), (0...2_592_000).contains(overlap) else {
                return keysPage(s, nil, error: "The overlap is 0 to 2592000 seconds.", status: .badRequest)
            }
            let fresh: IssuedCredential
            do { fresh = try store.roll(credentialID: c.id, overlap: TimeInterval(overlap), now: Date()) } catch StoreError.invalid(let why) {
                return keysPage(s, nil, error: why, status: .badRequest)
            }
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "keys.roll", target: c.id,
                                       outcome: "rolled_to:\(fresh.credential.id)", requestID: context.requestID))
            return keysPage(s, (fresh, "key (it replaces \(c.displayPrefix)…\(c.last4), which works for \(overlap) s more)"))
        }
    }

    func revokeKey(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, keys: true) { s, _ in
            guard let c = try ownKey(s, context) else { return pages.message("Not found", "No such key.", signed: s, status: .notFound) }
            try store.revoke(credentialID: c.id)
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "keys.revoke", target: c.id,
                                       outcome: "revoked", requestID: context.requestID))
            return pages.redirect("/console/keys")
        }
    }

    // MARK: sessions, subjects, audit

    func sessionsPage(_ s: ConsolePages.Signed) throws -> Response {
        let now = Date()
        let rows = try store.sessions(tenant: s.user.tenantID, mode: s.mode, limit: 100).map { r -> [String: Any] in
            let status = r.spentAt != nil ? "succeeded" : r.revokedAt != nil ? "revoked" : r.expiresAt <= now ? "expired"
                : r.attempts >= r.maxAttempts ? "failed" : "pending"
            return ["id": r.id, "purpose": r.purpose.rawValue, "subject": r.subjectID ?? "", "customerRef": r.customerRef, "status": status,
                    "attempts": r.attempts, "maxAttempts": r.maxAttempts, "expires": ConsolePages.iso(r.expiresAt),
                    "revocable": status == "pending" && s.canWrite]
        }
        return pages.page("sessions", title: "Sessions", ["sessions": rows, "modeLabel": s.mode == .test ? "test mode" : "live mode"], signed: s)
    }

    func revokeSession(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, write: true) { s, _ in
            guard let id = context.parameters.get("id"), try store.revokeSession(tenant: s.user.tenantID, mode: s.mode, id: id) else {
                return pages.message("Not found", "No such live session.", signed: s, status: .notFound)
            }
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "sessions.revoke", target: id,
                                       outcome: "revoked", requestID: context.requestID))
            return pages.redirect("/console/sessions")
        }
    }

    func subjectsPage(_ s: ConsolePages.Signed, _ request: Request) throws -> Response {
        let query = request.uri.queryParameters.get("external_id").map { String($0.prefix(256)) }
        let page = try store.subjects(tenant: s.user.tenantID, mode: s.mode, limit: 100, after: nil, externalID: query?.isEmpty == false ? query : nil)
        let rows = page.subjects.map { x -> [String: Any] in
            ["id": x.id, "externalID": x.externalID ?? "", "faces": x.faceIDs.count, "custody": x.custody.rawValue,
             "created": ConsolePages.iso(x.createdAt), "canWrite": s.canWrite]
        }
        return pages.page("subjects", title: "Subjects", ["subjects": rows, "query": query ?? "", "modeLabel": s.mode == .test ? "test mode" : "live mode"],
                          signed: s)
    }

    func deleteSubject(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, write: true) { s, _ in
            guard let id = context.parameters.get("id"), let faces = try store.deleteSubject(tenant: s.user.tenantID, mode: s.mode, id: id) else {
                return pages.message("Not found", "No such subject.", signed: s, status: .notFound)
            }
            galleries.index(tenant: s.user.tenantID, mode: s.mode).remove(faces: faces)
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "subjects.delete", subject: id,
                                       outcome: "deleted", requestID: context.requestID))
            return pages.redirect("/console/subjects")
        }
    }

    static let day: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        return f
    }()

    func auditPage(_ s: ConsolePages.Signed, _ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        func text(_ name: String) -> String? { q.get(name).map { String($0.prefix(200)) }.flatMap { $0.isEmpty ? nil : $0 } }
        let from = text("from").flatMap(Self.day.date(from:)), until = text("until").flatMap(Self.day.date(from:)).map { $0.addingTimeInterval(86_400) }
        let rows = try store.auditEntries(tenant: s.user.tenantID, filter: AuditFilter(mode: s.mode, operation: text("operation"), credential: text("credential"),
                                                                                     from: from, until: until, limit: 300)).map { r -> [String: Any] in
            ["at": ConsolePages.iso(r.at), "operation": r.operation, "credential": r.credential ?? "", "subject": r.subject ?? "",
             "target": r.target ?? "", "outcome": r.outcome]
        }
        return pages.page("audit", title: "Audit log", ["rows": rows, "operation": text("operation") ?? "", "credential": text("credential") ?? "",
                                                        "from": text("from") ?? "", "until": text("until") ?? ""], signed: s)
    }

    // MARK: team and invitations

    func teamPage(_ s: ConsolePages.Signed, link: String?) throws -> Response {
        let users = try store.users(tenant: s.user.tenantID).map { ["email": $0.email, "role": $0.role.rawValue, "created": ConsolePages.iso($0.createdAt)] }
        var values: [String: Any] = ["users": users]
        if let link { values["inviteLink"] = link }
        return pages.page("team", title: "Team", values, signed: s)
    }

    func invite(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request, owner: true) { s, form in
            let role = UserRecord.Role(rawValue: form["role"] ?? "") ?? .viewer
            let token = Secrets.base64URL(Secrets.randomBytes(32))
            try store.createInvite(InviteRecord(digest: ConsolePages.digest(token), tenantID: s.user.tenantID, role: role,
                                                expiresAt: Date().addingTimeInterval(Self.inviteLifetime)), createdBy: s.user.id)
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "console.invite", outcome: role.rawValue,
                                       requestID: context.requestID))
            let host = request.head.authority.map { "http://\($0)" } ?? ""
            return try teamPage(s, link: "\(host)/console/invite/\(token)")
        }
    }

    func inviteForm(_ request: Request, _ context: ArgusRequestContext, error: String?, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let token = context.parameters.get("token"), token.count <= 64, let invite = try store.invite(digest: ConsolePages.digest(token)),
              let tenantID = invite.tenantID, let tenant = try store.tenant(id: tenantID) else {
            return pages.message("Invitation not valid", "This invitation is unknown, used or expired.", signed: nil, status: .notFound)
        }
        let (csrf, cookies) = preLoginToken(request)
        var values: [String: Any] = ["csrf": csrf, "token": token, "tenantName": tenant.name, "role": invite.role.rawValue]
        if let error { values["error"] = error }
        return pages.page("invite", title: "Join \(tenant.name)", values, signed: nil, status: status, cookies: cookies)
    }

    func acceptInvite(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let form = try await self.form(request)
        guard preLoginCSRF(request, form) else {
            return pages.message("Refused", "The form's CSRF token is missing or wrong.", signed: nil, status: .forbidden)
        }
        guard let token = context.parameters.get("token"), token.count <= 64, try store.invite(digest: ConsolePages.digest(token))?.tenantID != nil else {
            return pages.message("Invitation not valid", "This invitation is unknown, used or expired.", signed: nil, status: .notFound)
        }
        let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces).lowercased(), password = form["password"] ?? ""
        guard Self.validEmail(email) else { return try inviteForm(request, context, error: "Enter a valid e-mail address.", status: .badRequest) }
        guard (10...256).contains(password.count), password.utf8.count <= 1024 else {
            return try inviteForm(request, context, error: "Passwords have 10 to 256 characters.", status: .badRequest)
        }
        guard try store.user(email: email) == nil else { return try inviteForm(request, context, error: "An account with this e-mail exists.", status: .conflict) }
        guard signupsByAddress.allow(context.clientAddress) else {
            return try inviteForm(request, context, error: "Too many sign-ups from this address: wait a minute.", status: .tooManyRequests)
        }
        let hash: String
        do { hash = try await PasswordHash.make(password) } catch is PasswordHash.Busy { return busy() }
        let user: UserRecord
        do { user = try store.joinTenant(inviteDigest: ConsolePages.digest(token), email: email, passwordHash: hash) } catch StoreError.conflict {
            return try inviteForm(request, context, error: "An account with this e-mail exists.", status: .conflict)
        } catch StoreError.invalid(let why) {
            return pages.message("Invitation not valid", "This invitation cannot be used: \(why).", signed: nil, status: .forbidden)
        }
        let tenantID = user.tenantID
        try store.audit(AuditEntry(tenant: tenantID, credential: "console:\(user.id)", operation: "console.join", target: user.id, outcome: user.role.rawValue,
                                   requestID: context.requestID))
        return pages.redirect("/console", cookies: try startSession(user))
    }

    func busy() -> Response {
        var response = pages.message("Busy", "The server is busy checking passwords: retry in a moment.", signed: nil, status: .serviceUnavailable)
        response.headers[.retryAfter] = "2"
        return response
    }

    func changePassword(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        try await signedForm(request) { s, form in
            let current = form["current"] ?? "", new = form["new"] ?? ""
            let pair = s.user.email + "|" + context.clientAddress
            guard attemptsByPair.allow(pair) else {
                return pages.page("password", title: "Password", ["error": "Too many failed attempts: wait a minute."], signed: s, status: .tooManyRequests)
            }
            let right: Bool
            do { right = try await PasswordHash.verify(current, against: s.user.passwordHash) } catch is PasswordHash.Busy {
                attemptsByPair.refund(pair)
                return busy()
            }
            guard right else {
                return pages.page("password", title: "Password", ["error": "The current password is wrong."], signed: s, status: .unauthorized)
            }
            attemptsByPair.refund(pair)
            guard (10...256).contains(new.count) else {
                return pages.page("password", title: "Password", ["error": "Passwords have 10 to 256 characters."], signed: s, status: .badRequest)
            }
            let hash: String
            do { hash = try await PasswordHash.make(new) } catch is PasswordHash.Busy { return busy() }
            try store.setPassword(userID: s.user.id, passwordHash: hash)
            try store.audit(AuditEntry(tenant: s.user.tenantID, mode: s.mode, credential: "console:\(s.user.id)", operation: "console.password", outcome: "changed",
                                       requestID: context.requestID))
            return pages.redirect("/console", cookies: try startSession(s.user, mode: s.mode))
        }
    }
}
