import ArgusStore
public import Foundation
public import Hummingbird

/// Signed requests: signers registered on a credential, the `signed_requests` setting, and the
/// user-action flow (`/v1/auth/action/init` → sign → `/v1/auth/action`). Init and complete are
/// separate calls so that a device or a KMS can sign between them (delegated signing).
///
/// Once a credential signs its requests, changing its signers or the setting needs a user action
/// signed by *its* signers, whoever calls: the protection cannot be lifted with another key's say-so.
struct SigningController {
    let store: any Store
    let body: RequestBody
    /// Seconds a challenge and its action live (1…300).
    let lifetime: TimeInterval
    static let algorithms: Set<String> = ["Ed25519", "ES256", "ES256K", "RS256"]

    /// `keys` require `keys:manage`; `actions` any key (never a session token).
    func register(keys: some RouterMethods<ArgusRequestContext>, actions: some RouterMethods<ArgusRequestContext>) {
        keys.post("/v1/keys/:id/signers") { request, context in try await addSigner(request, context) }
        keys.get("/v1/keys/:id/signers") { _, context in try listSigners(context) }
        keys.delete("/v1/keys/:id/signers/:signer_id") { _, context in try revokeSigner(context) }
        keys.patch("/v1/keys/:id") { request, context in try await update(request, context) }
        actions.post("/v1/auth/action/init") { request, context in try await initAction(request, context) }
        actions.post("/v1/auth/action") { request, context in try await completeAction(request, context) }
    }

    /// The credential in the path, and when it signs its requests, proof that its signers authorised this one.
    private func protectedTarget(_ context: ArgusRequestContext) throws -> Credential {
        let p = try context.principal()
        let target = try KeysController.target(id: context.parameters.get("id"), for: p, in: store)
        if target.signedRequests, context.authorisedBy != target.id { throw APIError.userActionRequired }
        return target
    }

    func addSigner(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let target = try protectedTarget(context)
        let input = try await body.decode(AddSignerRequest.self, from: request)
        guard let alg = input.alg, Self.algorithms.contains(alg) else { throw APIError.invalidRequest("alg: expected Ed25519, ES256, ES256K or RS256") }
        let pem: String
        do {
            switch (input.publicKeyPEM, input.jwk) {
            case (let text?, nil): pem = text
            case (nil, let jwk?): pem = try PublicKeys.pem(jwk: jwk, alg: alg)
            default: throw APIError.invalidRequest("send public_key_pem or jwk (one of them)")
            }
            _ = try PublicKeys.Verifier(alg: alg, pem: pem)
        } catch let failure as PublicKeys.Failure {
            throw APIError.invalidRequest(failure.description)
        }
        guard try store.signers(credentialID: target.id).filter({ $0.revokedAt == nil }).count < 20 else {
            throw APIError.invalidRequest("a credential holds at most 20 live signers")
        }
        let signer = try store.addSigner(credentialID: target.id, alg: alg, publicKeyPEM: pem)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "signers.create", target: signer.id,
                                   outcome: "created for \(target.id)", requestID: context.requestID))
        return try JSONResponse.make(SignerResponse(signer: signer), status: .created)
    }

    func listSigners(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let target = try KeysController.target(id: context.parameters.get("id"), for: p, in: store)
        return try JSONResponse.make(ListResponse(data: try store.signers(credentialID: target.id).map(SignerResponse.init)))
    }

    func revokeSigner(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let target = try protectedTarget(context)
        guard let id = context.parameters.get("signer_id") else { throw APIError.notFound("signer") }
        if target.signedRequests {
            let live = try store.signers(credentialID: target.id).filter { $0.revokedAt == nil }
            if live.count == 1, live.first?.id == id {
                throw APIError.invalidRequest("the last signer of a key that requires signed requests cannot be revoked: add another, or set signed_requests to optional first")
            }
        }
        guard try store.revokeSigner(credentialID: target.id, id: id) else { throw APIError.notFound("signer") }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "signers.revoke", target: id,
                                   outcome: "revoked on \(target.id)", requestID: context.requestID))
        return try JSONResponse.make(RevokedResponse(id: id))
    }

    func update(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let target = try protectedTarget(context)
        let input = try await body.decode(UpdateKeyRequest.self, from: request)
        guard let setting = input.signedRequests else { throw APIError.invalidRequest("signed_requests: expected required or optional") }
        if setting == .required, try !store.signers(credentialID: target.id).contains(where: { $0.revokedAt == nil }) {
            throw APIError.invalidRequest("register a signer (POST /v1/keys/\(target.id)/signers) before requiring signed requests")
        }
        try store.setSignedRequests(credentialID: target.id, required: setting == .required)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "keys.update", target: target.id,
                                   outcome: "signed_requests:\(setting.rawValue)", requestID: context.requestID))
        guard let updated = try store.credential(id: target.id) else { throw APIError.notFound("key") }
        return try JSONResponse.make(KeyResponse(updated))
    }

    func initAction(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await body.decode(ActionInitRequest.self, from: request)
        guard let method = input.method, UserActionMiddleware.stateChanging.contains(where: { $0.rawValue == method }) else {
            throw APIError.invalidRequest("method: expected POST, PUT, PATCH or DELETE")
        }
        guard let path = input.path, path.hasPrefix("/"), path.utf8.count <= 2048, path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
            throw APIError.invalidRequest("path: expected the request target (path and query) as sent, printable ASCII")
        }
        guard let digest = input.bodySHA256, digest.utf8.count == 64, digest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw APIError.invalidRequest("body_sha256: expected 64 lowercase hex digits")
        }
        let signers = try store.signers(credentialID: p.credentialID).filter { $0.revokedAt == nil }
        guard !signers.isEmpty else { throw APIError.invalidRequest("this credential has no signer: register one with POST /v1/keys/{id}/signers") }
        let challenge = ChallengeRecord(id: Secrets.identifier("chl"), credentialID: p.credentialID, method: method, path: path, bodySHA256: digest,
                                        challenge: Secrets.base64URL(Secrets.randomBytes(32)), expiresAt: Date().addingTimeInterval(lifetime))
        try store.createChallenge(challenge)
        return try JSONResponse.make(ChallengeResponse(challengeID: challenge.id, challenge: challenge.challenge, expiresAt: ISODate.string(challenge.expiresAt),
                                                       allowedSigners: signers.map { .init(id: $0.id, alg: $0.alg) }))
    }

    /// The exact bytes a signer signs.
    static func signedBytes(challenge: String, method: String, path: String, bodySHA256: String) -> [UInt8] {
        Array("{\"challenge\":\"\(challenge)\",\"method\":\"\(method)\",\"path\":\"\(path)\",\"body_sha256\":\"\(bodySHA256)\"}".utf8)
    }

    func completeAction(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        // A challenge id, a signer id and one signature (an RSA-4096 one is 683 base64url characters):
        // 64 KB is far more than enough, and a huge body is refused after 64 KB instead of being read whole.
        let input = try await RequestBody(maxBytes: min(body.maxBytes, 64 << 10), timeout: body.timeout)
            .decode(ActionCompleteRequest.self, from: request)
        guard let challengeID = input.challengeID, let signerID = input.signerID, let encoded = input.signature else {
            throw APIError.invalidRequest("challenge_id, signer_id and signature are required")
        }
        // Lengths first: nothing is decoded past what an 8192-bit RSA signature needs.
        guard challengeID.utf8.count <= 64, signerID.utf8.count <= 64, encoded.utf8.count <= 1400, let signature = Secrets.base64URLDecode(encoded),
              signature.count <= 1024 else {
            throw APIError.userActionInvalid("the signature is not base64url")
        }
        // Taken once, whatever follows: a challenge is never tried twice.
        guard let challenge = try store.takeChallenge(id: challengeID), let owner = try store.credential(id: challenge.credentialID),
              owner.tenantID == p.tenantID, owner.mode == p.mode else {
            throw APIError.userActionInvalid("unknown or already used challenge")
        }
        guard challenge.expiresAt > Date() else { throw APIError.userActionInvalid("the challenge has expired") }
        guard owner.isLive() else { throw APIError.userActionInvalid("the challenge's credential is no longer live") }
        guard let signer = try store.signers(credentialID: owner.id).first(where: { $0.id == signerID && $0.revokedAt == nil }),
              let verifier = try? PublicKeys.Verifier(alg: signer.alg, pem: signer.publicKeyPEM) else {
            throw APIError.userActionInvalid("unknown signer for this credential")
        }
        let message = Self.signedBytes(challenge: challenge.challenge, method: challenge.method, path: challenge.path, bodySHA256: challenge.bodySHA256)
        guard verifier.isValid([UInt8](signature), for: message) else { throw APIError.userActionInvalid("the signature does not verify") }
        let action = UserActionRecord(id: Secrets.identifier("ua"), credentialID: owner.id, signerID: signer.id, method: challenge.method,
                                      path: challenge.path, bodySHA256: challenge.bodySHA256, expiresAt: challenge.expiresAt)
        try store.createUserAction(action)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "auth.action", target: action.id,
                                   outcome: "signed by \(signer.id) for \(challenge.method) \(challenge.path.prefix(200))", requestID: context.requestID))
        return try JSONResponse.make(UserActionResponse(userAction: action.id, expiresAt: ISODate.string(action.expiresAt)))
    }
}
