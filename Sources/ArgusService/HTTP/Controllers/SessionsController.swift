public import Foundation
public import Hummingbird

/// `POST /v1/sessions` mints a token for one verification or enrolment; `DELETE` revokes it.
struct SessionsController {
    let deps: ServiceDependencies

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.post("/v1/sessions") { request, context in try await create(request, context) }
        router.delete("/v1/sessions/:id") { _, context in try revoke(context) }
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        // A session cannot mint sessions: tokens are never renewed.
        guard !p.isSession else { throw APIError.insufficientScope(Scope.sessionsCreate.rawValue) }
        try p.require(.sessionsCreate)
        let body = try await deps.body.decode(CreateSessionRequest.self, from: request)
        guard let customerRef = body.customerRef, !customerRef.isEmpty, customerRef.count <= 256 else {
            throw APIError.invalidRequest("customer_ref (1…256 characters) is required")
        }
        guard let purpose = body.purpose else { throw APIError.invalidRequest("purpose: expected verify or enroll") }
        // A token can do only what its minter could do itself.
        let needed: Scope = purpose == .verify ? .verify : .subjectsWrite
        guard p.scopes.contains(needed) else { throw APIError.insufficientScope("\(needed.rawValue) (to mint \(purpose.rawValue) sessions)") }
        guard let subject = body.subjectID else { throw APIError.invalidRequest("subject_id is required") }
        guard try deps.store.subject(tenant: p.tenantID, mode: p.mode, id: subject) != nil else { throw APIError.notFound("subject") }
        let ttl = body.ttl ?? deps.configuration.sessionDefaultTTL
        guard ttl > 0 else { throw APIError.invalidRequest("ttl: expected a positive number of seconds") }
        let lifetime = min(ttl, deps.configuration.sessionMaxTTL)
        let now = Date()
        let expires = now.addingTimeInterval(TimeInterval(lifetime))
        let id = Secrets.identifier("ses")
        try deps.store.createSession(id: id, tenant: p.tenantID, mode: p.mode, credential: p.credentialID, purpose: purpose, subject: subject,
                                     customerRef: customerRef, expiresAt: expires, maxAttempts: deps.configuration.sessionMaxAttempts)
        let t = Int(now.timeIntervalSince1970)
        let claims = SessionClaims(iss: deps.configuration.issuer, aud: deps.configuration.audience, sub: customerRef, tenant: p.tenantID,
                                   mode: p.mode.rawValue, purpose: purpose.rawValue, subject: subject, jti: id, iat: t, nbf: t,
                                   exp: Int(expires.timeIntervalSince1970))
        let token = try await deps.tokens.mint(claims)
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "sessions.create", subject: subject, target: id,
                             outcome: "created", requestID: context.requestID)
        return try JSONResponse.make(["id": id, "token": token, "expires_at": JSONResponse.iso(expires), "purpose": purpose.rawValue,
                                      "subject_id": subject, "max_attempts": deps.configuration.sessionMaxAttempts], status: .created)
    }

    func revoke(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.sessionsCreate.rawValue) }
        try p.require(.sessionsCreate)
        guard let id = context.parameters.get("id"), let record = try deps.store.session(id: id), record.tenantID == p.tenantID,
              record.mode == p.mode else { throw APIError.notFound("session") }
        // Only sessions the caller could have minted.
        let needed: Scope = record.purpose == .verify ? .verify : .subjectsWrite
        guard p.scopes.contains(needed) else { throw APIError.insufficientScope("\(needed.rawValue) (to revoke \(record.purpose.rawValue) sessions)") }
        guard try deps.store.revokeSession(tenant: p.tenantID, mode: p.mode, id: id) else {
            throw APIError.invalidRequest("session \(id) is already revoked")
        }
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "sessions.revoke", target: id, outcome: "revoked",
                             requestID: context.requestID)
        return try JSONResponse.make(["id": id, "revoked": true])
    }
}
