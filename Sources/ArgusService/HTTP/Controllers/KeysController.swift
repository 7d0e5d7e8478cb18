public import Foundation
public import Hummingbird

/// `/v1/keys`: create, list, roll and revoke credentials of the caller's tenant and mode.
struct KeysController {
    let deps: ServiceDependencies

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.post("/v1/keys") { request, context in try await create(request, context) }
        router.get("/v1/keys") { _, context in try list(context) }
        router.post("/v1/keys/:id/roll") { request, context in try await roll(request, context) }
        router.delete("/v1/keys/:id") { _, context in try revoke(context) }
    }

    private func caller(_ context: ArgusRequestContext) throws -> Principal {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.keysManage.rawValue) }
        try p.require(.keysManage)
        return p
    }

    static func json(_ c: Credential) -> [String: Any] {
        ["id": c.id, "kind": c.kind.rawValue, "mode": c.mode.rawValue, "prefix": c.displayPrefix, "last4": c.last4,
         "scopes": c.scopes.map(\.rawValue).sorted(), "name": c.name ?? NSNull(), "created": JSONResponse.iso(c.createdAt),
         "last_used": JSONResponse.iso(c.lastUsedAt), "expires": JSONResponse.iso(c.expiresAt), "revoked": JSONResponse.iso(c.revokedAt)]
    }

    static func issued(_ i: IssuedCredential) -> [String: Any] {
        var out = json(i.credential)
        if let clientKey = i.clientKey {
            out["client_key"] = clientKey
            out["client_secret"] = i.secret
        } else {
            out["key"] = i.secret
        }
        return out
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try caller(context)
        let body = try await deps.body.json(request)
        let kind = Credential.Kind(rawValue: body["kind"] as? String ?? "restricted") ?? .restricted
        if let mode = body["mode"] as? String, mode != p.mode.rawValue {
            throw APIError.modeMismatch("A \(p.mode.rawValue)-mode credential cannot create \(mode)-mode keys")
        }
        // Only a secret key may mint another secret key: scoped keys cannot escalate.
        if kind == .secret, case .secretKey = p.kind {} else if kind == .secret { throw APIError.insufficientScope("secret keys") }
        var scopes = Set<Scope>()
        for name in body["scopes"] as? [String] ?? [] {
            guard let scope = Scope(rawValue: name) else { throw APIError.invalidRequest("unknown scope \(name)") }
            guard p.scopes.contains(scope) else { throw APIError.insufficientScope(name) }
            scopes.insert(scope)
        }
        if kind != .secret && scopes.isEmpty { throw APIError.invalidRequest("scopes are required for restricted keys and client credentials") }
        let issued = try deps.store.createCredential(tenant: p.tenantID, mode: p.mode, kind: kind, scopes: scopes, name: body["name"] as? String)
        deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "keys.create", subject: nil, outcome: issued.credential.id,
                         requestID: context.requestID)
        return try JSONResponse.make(Self.issued(issued), status: .created)
    }

    func list(_ context: ArgusRequestContext) throws -> Response {
        let p = try caller(context)
        return try JSONResponse.make(["data": try deps.store.credentials(tenant: p.tenantID, mode: p.mode).map(Self.json)])
    }

    private func owned(_ context: ArgusRequestContext, _ p: Principal) throws -> Credential {
        guard let id = context.parameters.get("id"), let c = try deps.store.credential(id: id), c.tenantID == p.tenantID else {
            throw APIError.notFound("key")
        }
        guard c.mode == p.mode else { throw APIError.modeMismatch("That key belongs to \(c.mode.rawValue) mode") }
        return c
    }

    func roll(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try caller(context)
        let c = try owned(context, p)
        let body = try await deps.body.json(request)
        let overlap = (body["expires_in"] as? NSNumber)?.doubleValue ?? 0
        guard overlap >= 0, overlap <= 30 * 24 * 3600 else { throw APIError.invalidRequest("expires_in must be 0…2592000 seconds") }
        let fresh = try deps.store.roll(credentialID: c.id, overlap: overlap)
        deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "keys.roll", subject: nil, outcome: fresh.credential.id,
                         requestID: context.requestID)
        return try JSONResponse.make(Self.issued(fresh), status: .created)
    }

    func revoke(_ context: ArgusRequestContext) throws -> Response {
        let p = try caller(context)
        let c = try owned(context, p)
        try deps.store.revoke(credentialID: c.id)
        deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "keys.revoke", subject: nil, outcome: c.id, requestID: context.requestID)
        return try JSONResponse.make(["id": c.id, "revoked": true])
    }
}
