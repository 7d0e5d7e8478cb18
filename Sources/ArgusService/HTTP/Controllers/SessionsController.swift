import ArgusStore
public import Foundation
public import Hummingbird

/// `POST /v1/sessions` mints a token for one verification or enrolment; `DELETE` revokes it.
struct SessionsController {
    let store: any Store
    let tokens: SessionTokens
    let configuration: ServiceConfiguration
    let body: RequestBody

    /// `routes` require `sessions:create` and refuse session tokens (a token is never renewed by a token).
    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.post("/v1/sessions") { request, context in try await create(request, context) }
        routes.delete("/v1/sessions/:id") { _, context in try revoke(context) }
        routes.get("/v1/sessions/:id") { _, context in try show(context) }
        routes.get("/v1/sessions") { request, context in try list(request, context) }
    }

    /// The outcome of a session as its tenant's backend reads it (never the token itself).
    func show(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard let id = context.parameters.get("id"), let record = try store.session(id: id), record.tenantID == p.tenantID, record.mode == p.mode else {
            throw APIError.notFound("session")
        }
        return try JSONResponse.make(SessionResponse(record, attempts: try store.attempts(sessionID: record.id)))
    }

    func list(_ request: Request, _ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let q = request.uri.queryParameters
        var filter = SessionFilter()
        if let text = q.get("status") {
            guard let status = SessionRecord.Status(rawValue: text) else {
                throw APIError.invalidRequest("status: expected one of \(SessionRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.status = status
        }
        if let text = q.get("limit") {
            guard let n = Int(text), (1...100).contains(n) else { throw APIError.invalidRequest("limit: expected an integer 1…100") }
            filter.limit = n
        }
        filter.subject = q.get("subject_id")
        filter.customerRef = q.get("customer_ref")
        filter.after = q.get("starting_after")
        let page = try store.sessions(tenant: p.tenantID, mode: p.mode, filter: filter)
        return try JSONResponse.make(SessionListResponse(data: try page.sessions.map { SessionResponse($0, attempts: try store.attempts(sessionID: $0.id)) },
                                                         hasMore: page.hasMore))
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await body.decode(CreateSessionRequest.self, from: request)
        guard let customerRef = input.customerRef, !customerRef.isEmpty, customerRef.count <= 256 else {
            throw APIError.invalidRequest("customer_ref (1…256 characters) is required")
        }
        guard let purpose = input.purpose else { throw APIError.invalidRequest("purpose: expected verify or enroll") }
        // A token can do only what its minter could do itself.
        let needed: Scope = purpose == .verify ? .verify : .subjectsWrite
        guard p.scopes.contains(needed) else { throw APIError.insufficientScope("\(needed.rawValue) (to mint \(purpose.rawValue) sessions)") }
        guard let subject = input.subjectID else { throw APIError.invalidRequest("subject_id is required") }
        guard try store.subject(tenant: p.tenantID, mode: p.mode, id: subject) != nil else { throw APIError.notFound("subject") }
        let ttl = input.ttl ?? configuration.sessionDefaultTTL
        guard ttl > 0 else { throw APIError.invalidRequest("ttl: expected a positive number of seconds") }
        let lifetime = min(ttl, configuration.sessionMaxTTL)
        let now = Date()
        let expires = now.addingTimeInterval(TimeInterval(lifetime))
        let id = Secrets.identifier("ses")
        try store.createSession(NewSession(id: id, tenant: p.tenantID, mode: p.mode, credential: p.credentialID, purpose: purpose, subject: subject,
                                           customerRef: customerRef, expiresAt: expires, maxAttempts: configuration.sessionMaxAttempts))
        let t = Int(now.timeIntervalSince1970)
        let claims = SessionClaims(iss: configuration.issuer, aud: configuration.audience, sub: customerRef, tenant: p.tenantID,
                                   mode: p.mode.rawValue, purpose: purpose.rawValue, subject: subject, jti: id, iat: t, nbf: t,
                                   exp: Int(expires.timeIntervalSince1970))
        let token = try await tokens.mint(claims)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "sessions.create", subject: subject, target: id,
                                   outcome: "created", requestID: context.requestID))
        return try JSONResponse.make(SessionCreatedResponse(id: id, token: token, expiresAt: ISODate.string(expires), purpose: purpose,
                                                            subjectID: subject, maxAttempts: configuration.sessionMaxAttempts), status: .created)
    }

    func revoke(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard let id = context.parameters.get("id"), let record = try store.session(id: id), record.tenantID == p.tenantID,
              record.mode == p.mode else { throw APIError.notFound("session") }
        // Only sessions the caller could have minted.
        let needed: Scope = record.purpose == .verify ? .verify : .subjectsWrite
        guard p.scopes.contains(needed) else { throw APIError.insufficientScope("\(needed.rawValue) (to revoke \(record.purpose.rawValue) sessions)") }
        guard try store.revokeSession(tenant: p.tenantID, mode: p.mode, id: id) else {
            throw APIError.invalidRequest("session \(id) is already revoked")
        }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "sessions.revoke", target: id, outcome: "revoked",
                                   requestID: context.requestID))
        return try JSONResponse.make(RevokedResponse(id: id))
    }
}
