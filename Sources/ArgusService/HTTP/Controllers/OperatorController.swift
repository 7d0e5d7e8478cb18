public import ArgusStore
public import Foundation
public import Hummingbird

/// `/v1/operator/tenants`: the platform operator creates, lists, suspends and resumes tenants.
/// Only operator keys reach these routes; no tenant credential ever does.
struct OperatorController {
    let store: any Store
    let body: RequestBody

    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.get("/v1/operator/tenants") { _, _ in try JSONResponse.make(ListResponse(data: try store.tenants().map(TenantResponse.init))) }
        routes.post("/v1/operator/tenants") { request, context in try await create(request, context) }
        routes.post("/v1/operator/tenants/:id/suspend") { _, context in try set(.suspended, context) }
        routes.post("/v1/operator/tenants/:id/resume") { _, context in try set(.active, context) }
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await body.decode(CreateTenantRequest.self, from: request)
        guard let name = input.name, (1...200).contains(name.utf8.count) else { throw APIError.invalidRequest("name: expected 1…200 bytes") }
        let (tenant, key) = try Tenancy.create(name: name, in: store)
        try store.audit(AuditEntry(tenant: tenant.id, credential: p.credentialID, operation: "tenants.create", target: tenant.id, outcome: "created",
                                   requestID: context.requestID))
        var response = TenantResponse(tenant)
        response.secretKey = key.secret
        return try JSONResponse.make(response, status: .created)
    }

    func set(_ status: TenantRecord.Status, _ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard let id = context.parameters.get("id"), try store.setTenantStatus(id: id, status: status), let tenant = try store.tenant(id: id) else {
            throw APIError.notFound("tenant")
        }
        try store.audit(AuditEntry(tenant: id, credential: p.credentialID, operation: status == .active ? "tenants.resume" : "tenants.suspend",
                                   target: id, outcome: status.rawValue, requestID: context.requestID))
        return try JSONResponse.make(TenantResponse(tenant))
    }
}

/// Creating a tenant: the tenant and its first test-mode secret key, one path for the CLI, the
/// operator API and console sign-up.
public enum Tenancy {
    public static func create(name: String, in store: any Store) throws -> (TenantRecord, IssuedCredential) {
        let tenant = try store.createTenant(name: name)
        let key = try store.createCredential(tenant: tenant.id, mode: .test, kind: .secret, scopes: [], name: "first key", expiresAt: nil)
        return (tenant, key)
    }
}
