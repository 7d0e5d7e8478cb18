import ArgusStore
public import Foundation
public import Hummingbird

/// `/v1/keys`: create, list, roll and revoke credentials of the caller's tenant and mode.
///
/// Authority never grows through this controller: a credential may create, see, roll or revoke
/// only credentials it could have created itself — a secret key any of its tenant and mode; a
/// restricted key or client credential with `keys:manage` only non-secret credentials whose scopes
/// are within its own. Ids of another tenant or mode answer 404, like ids that never existed.
struct KeysController {
    let store: any Store
    let body: RequestBody
    static let maxOverlap = 30 * 24 * 3600

    /// `routes` require `keys:manage` and refuse session tokens.
    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.post("/v1/keys") { request, context in try await create(request, context) }
        routes.get("/v1/keys") { _, context in try list(context) }
        routes.post("/v1/keys/:id/roll") { request, context in try await roll(request, context) }
        routes.delete("/v1/keys/:id") { _, context in try revoke(context) }
    }

    private func caller(_ context: ArgusRequestContext) throws -> Principal { try context.principal() }

    /// Whether `p` could have created a credential of this kind and these scopes.
    static func mayHold(_ p: Principal, kind: Credential.Kind, scopes: Set<Scope>) -> Bool {
        if case .secretKey = p.kind { return true }
        return kind != .secret && scopes.isSubset(of: p.scopes)
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try caller(context)
        let input = try await body.decode(CreateKeyRequest.self, from: request)
        let kind = input.kind ?? .restricted
        if let mode = input.mode, mode != p.mode {
            throw APIError.modeMismatch("A \(p.mode.rawValue)-mode credential cannot create \(mode.rawValue)-mode keys")
        }
        if let name = input.name, name.utf8.count > 200 { throw APIError.invalidRequest("name: expected at most 200 bytes") }
        let scopes = Set(input.scopes ?? [])
        if kind != .secret && scopes.isEmpty { throw APIError.invalidRequest("scopes are required for restricted keys and client credentials") }
        guard Self.mayHold(p, kind: kind, scopes: scopes) else {
            throw APIError.insufficientScope(kind == .secret ? "secret keys" : scopes.subtracting(p.scopes).map(\.rawValue).sorted().joined(separator: ", "))
        }
        let issued = try store.createCredential(tenant: p.tenantID, mode: p.mode, kind: kind, scopes: scopes, name: input.name, expiresAt: nil)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "keys.create", target: issued.credential.id,
                                   outcome: "created", requestID: context.requestID))
        return try JSONResponse.make(KeyResponse(issued: issued), status: .created)
    }

    func list(_ context: ArgusRequestContext) throws -> Response {
        let p = try caller(context)
        let visible = try store.credentials(tenant: p.tenantID, mode: p.mode).filter { Self.mayHold(p, kind: $0.kind, scopes: $0.scopes) }
        return try JSONResponse.make(ListResponse(data: visible.map(KeyResponse.init)))
    }

    /// The credential named in the path, if the caller may act on it.
    /// - Throws: 404 for ids of another tenant or mode (as for unknown ids); 403 `insufficient_scope`
    ///   for a credential broader than the caller.
    private func target(_ context: ArgusRequestContext, _ p: Principal) throws -> Credential {
        try Self.target(id: context.parameters.get("id"), for: p, in: store)
    }

    /// The credential `id`, if `p` may act on it.
    /// - Throws: 404 for ids of another tenant or mode (as for unknown ids); 403 `insufficient_scope`
    ///   for a credential broader than the caller.
    static func target(id: String?, for p: Principal, in store: any Store) throws -> Credential {
        guard let id, let c = try store.credential(id: id), c.tenantID == p.tenantID, c.mode == p.mode else {
            throw APIError.notFound("key")
        }
        guard mayHold(p, kind: c.kind, scopes: c.scopes) else {
            throw APIError.insufficientScope(c.kind == .secret ? "secret keys (only a secret key may roll or revoke one)" : "the key's scopes")
        }
        return c
    }

    func roll(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try caller(context)
        let c = try target(context, p)
        let input = try await body.decode(RollKeyRequest.self, from: request)
        let overlap = input.expiresIn ?? 0
        guard (0...Self.maxOverlap).contains(overlap) else { throw APIError.invalidRequest("expires_in: expected 0…\(Self.maxOverlap) seconds") }
        let fresh = try store.roll(credentialID: c.id, overlap: TimeInterval(overlap), now: Date())
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "keys.roll", target: c.id,
                                   outcome: "rolled_to:\(fresh.credential.id)", requestID: context.requestID))
        return try JSONResponse.make(KeyResponse(issued: fresh), status: .created)
    }

    func revoke(_ context: ArgusRequestContext) throws -> Response {
        let p = try caller(context)
        let c = try target(context, p)
        try store.revoke(credentialID: c.id)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "keys.revoke", target: c.id, outcome: "revoked",
                                   requestID: context.requestID))
        return try JSONResponse.make(RevokedResponse(id: c.id))
    }
}
