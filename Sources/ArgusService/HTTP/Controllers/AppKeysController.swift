import ArgusStore
public import Foundation
public import Hummingbird

/// `/v1/app_keys`: the tenant's application public key, to which client-custody subject keys are
/// wrapped. One per tenant and mode; only a secret key registers or replaces it (`"replace": true`),
/// since whoever chooses it can read every subject key wrapped afterwards. Each enrolment answer
/// names the app key its `subject_key` is wrapped to.
struct AppKeysController {
    let store: any Store
    let body: RequestBody

    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.post("/v1/app_keys") { request, context in try await create(request, context) }
        routes.get("/v1/app_keys") { _, context in
            let p = try context.principal()
            return try JSONResponse.make(ListResponse(data: try store.appKeys(tenant: p.tenantID, mode: p.mode).enumerated().map { i, k in
                AppKeyResponse(id: k.id, alg: k.alg, created: ISODate.string(k.createdAt), active: i == 0)
            }))
        }
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard case .secretKey = p.kind else { throw APIError.insufficientScope("a secret key (application keys decide who can read subject keys)") }
        let input = try await body.decode(AddAppKeyRequest.self, from: request)
        if try store.appKey(tenant: p.tenantID, mode: p.mode) != nil, input.replace != true {
            throw APIError.conflict("an application key is registered: send \"replace\": true to replace it (subject keys wrapped to the old one stay readable by its holder)")
        }
        guard let alg = input.alg, ["RSA-OAEP-256", "HPKE-X25519"].contains(alg) else {
            throw APIError.invalidRequest("alg: expected RSA-OAEP-256 or HPKE-X25519")
        }
        guard let pem = input.publicKeyPEM else { throw APIError.invalidRequest("public_key_pem is required") }
        do { _ = try PublicKeys.Wrapper(alg: alg, pem: pem) } catch let failure as PublicKeys.Failure {
            throw APIError.invalidRequest(failure.description)
        }
        let key = try store.addAppKey(tenant: p.tenantID, mode: p.mode, alg: alg, publicKeyPEM: pem)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "app_keys.create", target: key.id,
                                   outcome: input.replace == true ? "replaced" : "created", requestID: context.requestID))
        return try JSONResponse.make(AppKeyResponse(id: key.id, alg: key.alg, created: ISODate.string(key.createdAt), active: true), status: .created)
    }
}
