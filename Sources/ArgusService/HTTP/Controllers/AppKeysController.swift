import ArgusStore
public import Foundation
public import Hummingbird

/// `POST /v1/app_keys`: the tenant's application public key, to which client-custody subject
/// keys are wrapped (the latest registered is used for new wraps).
struct AppKeysController {
    let store: any Store
    let body: RequestBody

    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.post("/v1/app_keys") { request, context in try await create(request, context) }
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await body.decode(AddAppKeyRequest.self, from: request)
        guard let alg = input.alg, ["RSA-OAEP-256", "HPKE-X25519"].contains(alg) else {
            throw APIError.invalidRequest("alg: expected RSA-OAEP-256 or HPKE-X25519")
        }
        guard let pem = input.publicKeyPEM else { throw APIError.invalidRequest("public_key_pem is required") }
        do { _ = try PublicKeys.Wrapper(alg: alg, pem: pem) } catch let failure as PublicKeys.Failure {
            throw APIError.invalidRequest(failure.description)
        }
        let key = try store.addAppKey(tenant: p.tenantID, mode: p.mode, alg: alg, publicKeyPEM: pem)
        try store.audit(AuditEntry(tenant: p.tenantID, credential: p.credentialID, operation: "app_keys.create", target: key.id, outcome: "created",
                                   requestID: context.requestID))
        return try JSONResponse.make(AppKeyResponse(id: key.id, alg: key.alg, created: ISODate.string(key.createdAt)), status: .created)
    }
}
