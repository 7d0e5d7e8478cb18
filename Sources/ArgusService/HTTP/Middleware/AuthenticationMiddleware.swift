import ArgusStore
public import Foundation
public import Hummingbird

/// Resolves the caller from headers alone — `Authorization: Bearer sk_…|rk_…|tok_…`, or the
/// `x-client-key` + `x-client-secret` pair — and refuses the request (401/403/413/429) before any
/// handler reads the body. Public routes (health, JWKS, OpenAPI) pass through.
///
/// Failed authentications are rate limited per client address, before any credential is looked
/// at: an address past its budget of failures gets 429 for every credential it presents, so keys
/// cannot be guessed at speed. Every 401 and 403 is audited.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let store: any Store
    let tokens: SessionTokens
    let customers: CustomerTokens
    let limiter: RateLimiter
    let failures: RateLimiter
    let maxBodyBytes: Int
    static let publicPaths: Set<String> = ["/healthz", "/.well-known/jwks.json", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The console authenticates its users itself (password and session cookie).
        if Self.publicPaths.contains(request.uri.path) || request.uri.path == "/console" || request.uri.path.hasPrefix("/console/") {
            return try await next(request, context)
        }
        // 429s are not audited: the refusals that led to them were, and a flood must not cost a write each.
        guard failures.hasTokens(context.clientAddress) else { throw APIError.tooManyFailures }
        let principal: Principal
        do {
            principal = try await authenticate(request)
        } catch let error as APIError {
            // Guesses count against the address; real credentials that are spent, expired or revoked do not.
            if error.code == APIError.invalidCredentials.code { _ = failures.allow(context.clientAddress) }
            try refused(error, request, context, credential: nil)
        }
        // Several nodes on one store share each credential's bucket in the store; one process keeps it in memory.
        let allowed = try store.takeRateToken(key: principal.credentialID, rate: limiter.rate, burst: limiter.burst,
                                              now: Date().timeIntervalSince1970) ?? limiter.allow(principal.credentialID)
        guard allowed else { throw APIError.rateLimited }
        // A suspended tenant's credentials and sessions stop at once (read on every request, so every node sees it).
        if !principal.isOperator, try store.tenant(id: principal.tenantID)?.status != .active {
            try refused(.tenantSuspended, request, context, credential: principal)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw APIError.payloadTooLarge(maxBodyBytes)
        }
        var context = context
        context.identity = principal
        do {
            return try await next(request, context)
        } catch let error as APIError where error.status == .forbidden || error.status == .unauthorized {
            // Permission refusals (and refused user actions and subject keys) are audited with the caller.
            try refused(error, request, context, credential: principal)
        } catch let error as StoreError where APIError(error).status == .forbidden {
            try refused(APIError(error), request, context, credential: principal)
        }
    }

    /// Audits a refusal and throws it.
    private func refused(_ error: APIError, _ request: Request, _ context: Context, credential: Principal?) throws -> Never {
        do {
            try store.audit(AuditEntry(tenant: credential?.tenantID, mode: credential?.mode, credential: credential?.credentialID,
                                       operation: "refused \(request.method) \(request.uri.path.prefix(200))", outcome: error.code,
                                       requestID: context.requestID))
        } catch {
            context.logger.error("audit write failed for a refusal", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
            throw APIError.internalError
        }
        throw error
    }

    func authenticate(_ request: Request) async throws -> Principal {
        if let header = request.headers[.authorization] {
            guard header.count <= 8192, header.lowercased().hasPrefix("bearer ") else { throw APIError.invalidCredentials }
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            if token.hasPrefix("tok_") { return try await session(token) }
            if token.hasPrefix("op_") {
                let digest = Secrets.digest(token)
                guard let key = try store.operatorKey(secretDigest: digest), key.matches(secretDigest: digest) else { throw APIError.invalidCredentials }
                if key.revokedAt != nil { throw APIError.revokedCredentials }
                return Principal(tenantID: "", mode: .test, credentialID: key.id, kind: .operator, scopes: [])
            }
            if !token.hasPrefix("sk_") && !token.hasPrefix("rk_") && CustomerTokens.looksLikeJWT(token) {
                let claims = try customers.verify(token)
                var scopes: Set<Scope> = [.verify]
                if try store.customerSelfEnrollment(tenant: claims.tenantID) { scopes.insert(.subjectsWrite) }
                return Principal(tenantID: claims.tenantID, mode: claims.mode, credentialID: "\(claims.keyID):\(claims.subject)",
                                 kind: .customer(subject: claims.subject, gallery: claims.gallery), scopes: scopes)
            }
            guard token.hasPrefix("sk_") || token.hasPrefix("rk_") else { throw APIError.invalidCredentials }
            let digest = Secrets.digest(token)
            guard let credential = try store.credential(lookup: "k:" + Secrets.hex(digest)),
                  credential.matches(secretDigest: digest) else { throw APIError.invalidCredentials }
            return try principal(for: credential, presentedPrefix: String(token.prefix(8)))
        }
        if let key = request.headers[.clientKey] {
            guard let secret = request.headers[.clientSecret] else { throw APIError.missingCredentials }
            guard key.count <= 256, secret.count <= 256 else { throw APIError.invalidCredentials }
            let digest = Secrets.digest(secret)
            guard let credential = try store.credential(lookup: "c:" + key), credential.kind == .client else {
                // Spend the same work on unknown keys, so timing does not reveal which keys exist.
                _ = Secrets.constantTimeEqual(digest, Secrets.digest("unknown"))
                throw APIError.invalidCredentials
            }
            guard credential.matches(secretDigest: digest) else { throw APIError.invalidCredentials }
            return try principal(for: credential, presentedPrefix: String(key.prefix(8)))
        }
        throw APIError.missingCredentials
    }

    private func principal(for credential: Credential, presentedPrefix: String) throws -> Principal {
        if credential.revokedAt != nil { throw APIError.revokedCredentials }
        if let expires = credential.expiresAt, expires.timeIntervalSinceNow <= 0 { throw APIError.expiredCredentials }
        // The mode is part of the key's text; a stored mode that disagrees means tampering.
        guard presentedPrefix.contains("_\(credential.mode.rawValue)_") else {
            throw APIError.modeMismatch("This credential belongs to \(credential.mode.rawValue) mode")
        }
        store.touch(credentialID: credential.id)
        let kind: Principal.Kind = credential.kind == .secret ? .secretKey : (credential.kind == .client ? .client : .restrictedKey)
        let scopes = credential.kind == .secret ? Set(Scope.allCases) : credential.scopes
        var principal = Principal(tenantID: credential.tenantID, mode: credential.mode, credentialID: credential.id, kind: kind, scopes: scopes)
        principal.signedRequests = credential.signedRequests
        return principal
    }

    /// A session token authenticates only while it is unspent, unrevoked, unexpired, and the
    /// credential that minted it is itself live: no token outlives the authority behind it.
    private func session(_ token: String) async throws -> Principal {
        let claims = try await tokens.verify(token)
        guard let record = try store.session(id: claims.jti), record.tenantID == claims.tenant, record.mode.rawValue == claims.mode else {
            throw APIError.invalidCredentials
        }
        if record.revokedAt != nil { throw APIError.revokedCredentials }
        if record.spentAt != nil { throw APIError.sessionSpent("This session was already used successfully") }
        if record.expiresAt.timeIntervalSinceNow <= 0 { throw APIError.tokenExpired }
        guard let minter = try store.credential(id: record.credentialID), minter.isLive() else { throw APIError.revokedCredentials }
        let scope: Scope = record.purpose == .verify ? .verify : .subjectsWrite
        return Principal(tenantID: record.tenantID, mode: record.mode, credentialID: record.id, kind: .session(claims), scopes: [scope])
    }
}
