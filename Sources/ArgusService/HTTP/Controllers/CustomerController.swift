import ArgusStore
public import Foundation
public import Hummingbird

/// Customer tokens' side of the API: the tenant registers its backend's signing keys
/// (`/v1/customer_keys`) and the self-enrolment setting (`/v1/settings`); a customer token reads its
/// own subject's enrolment status and, when the tenant allows it, enrols a face to it.
struct CustomerController {
    let store: any Store
    let subjects: SubjectsController
    static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]

    /// `keys` require `keys:manage`; `customers` let customer tokens in; `settings` any key.
    func register(keys: some RouterMethods<ArgusRequestContext>, customers: some RouterMethods<ArgusRequestContext>,
                  settings: some RouterMethods<ArgusRequestContext>) {
        keys.post("/v1/customer_keys") { request, context in try await addKey(request, context) }
        keys.get("/v1/customer_keys") { _, context in
            let p = try context.principal()
            return try JSONResponse.make(ListResponse(data: try store.customerKeys(tenant: p.tenantID, mode: p.mode).map(CustomerKeyResponse.init)))
        }
        keys.delete("/v1/customer_keys/:id") { _, context in try deleteKey(context) }
        settings.patch("/v1/settings") { request, context in try await updateSettings(request, context) }
        settings.get("/v1/settings") { _, context in
            let p = try context.principal()
            return try JSONResponse.make(SettingsResponse(customerSelfEnrollment: try store.customerSelfEnrollment(tenant: p.tenantID)))
        }
        customers.get("/v1/customer/subject") { _, context in try status(context) }
        customers.post("/v1/customer/faces") { request, context in try await enroll(request, context) }
    }

    func addKey(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await subjects.body.decode(AddCustomerKeyRequest.self, from: request)
        guard let kid = input.kid, (1...256).contains(kid.utf8.count) else { throw APIError.invalidRequest("kid: expected 1…256 bytes") }
        guard let alg = input.alg, Self.algorithms.contains(alg) else { throw APIError.invalidRequest("alg: expected RS256, ES256 or EdDSA") }
        let pem: String
        do {
            switch (input.publicKeyPEM, input.jwk) {
            case (let text?, nil): pem = text
            case (nil, let jwk?): pem = try PublicKeys.pem(jwk: jwk, alg: alg == "EdDSA" ? "Ed25519" : alg)
            default: throw APIError.invalidRequest("send public_key_pem or jwk (one of them)")
            }
            try CustomerTokens.validate(alg: alg, pem: pem)
        } catch let failure as PublicKeys.Failure {
            throw APIError.invalidRequest(failure.description)
        }
        let key = try store.addCustomerKey(tenant: p.tenantID, mode: p.mode, kid: kid, alg: alg, publicKeyPEM: pem)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "customer_keys.create", target: key.id,
                                   outcome: "created kid \(kid)", requestID: context.requestID))
        return try JSONResponse.make(CustomerKeyResponse(key), status: .created)
    }

    func deleteKey(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard let id = context.parameters.get("id"), try store.deleteCustomerKey(tenant: p.tenantID, mode: p.mode, id: id) else {
            throw APIError.notFound("customer key")
        }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "customer_keys.delete", target: id,
                                   outcome: "deleted", requestID: context.requestID))
        return try JSONResponse.make(DeletedResponse(id: id))
    }

    func updateSettings(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard case .secretKey = p.kind else { throw APIError.insufficientScope("a secret key (tenant settings)") }
        let input = try await subjects.body.decode(UpdateSettingsRequest.self, from: request)
        guard let enabled = input.customerSelfEnrollment else { throw APIError.invalidRequest("customer_self_enrollment: expected true or false") }
        try store.setCustomerSelfEnrollment(tenant: p.tenantID, enabled: enabled)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "settings.update",
                                   outcome: "customer_self_enrollment:\(enabled)", requestID: context.requestID))
        return try JSONResponse.make(SettingsResponse(customerSelfEnrollment: enabled))
    }

    /// The customer's own subject (by `sub`), if any.
    private func ownSubject(_ p: Principal) throws -> Subject? {
        guard case .customer(let sub, _) = p.kind else { throw APIError.insufficientScope("a customer token") }
        return try store.subjects(tenant: p.tenantID, mode: p.mode, limit: 1, after: nil, externalID: sub).subjects.first
    }

    func status(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard case .customer(let sub, _) = p.kind else { throw APIError.insufficientScope("a customer token") }
        let subject = try ownSubject(p)
        return try JSONResponse.make(CustomerSubjectResponse(externalID: sub, subjectID: subject?.id, faces: subject?.faceIDs.count ?? 0))
    }

    func enroll(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard case .customer(let sub, _) = p.kind else { throw APIError.insufficientScope("a customer token") }
        guard try store.customerSelfEnrollment(tenant: p.tenantID) else {
            throw APIError.insufficientScope("self-enrolment (the tenant has not enabled customer_self_enrollment)")
        }
        // The subject is the token's `sub`; created with its first face when absent.
        let subject: Subject
        if let existing = try ownSubject(p) {
            subject = existing
        } else {
            do { subject = try store.createSubject(tenant: p.tenantID, mode: p.mode, externalID: sub) } catch StoreError.conflict {
                guard let raced = try ownSubject(p) else { throw APIError.conflict("the subject is being created") }
                subject = raced
            }
        }
        return try await subjects.enroll(request, context, subject: subject.id)
    }
}
