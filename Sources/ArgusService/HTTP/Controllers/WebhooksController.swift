import ArgusStore
public import Foundation
public import Hummingbird

/// `/v1/webhook_endpoints`: a tenant's endpoints and their deliveries. Registering or changing one
/// needs a secret key (events carry scores and duplicate candidates); reading needs `keys:manage`.
struct WebhooksController {
    let store: any Store
    let body: RequestBody
    let allowPrivate: Bool

    func register(_ routes: some RouterMethods<ArgusRequestContext>) {
        routes.post("/v1/webhook_endpoints") { request, context in try await create(request, context) }
        routes.get("/v1/webhook_endpoints") { _, context in
            let p = try context.principal()
            return try JSONResponse.make(ListResponse(data: try store.webhookEndpoints(tenant: p.tenantID, mode: p.mode).map { WebhookEndpointResponse($0) }))
        }
        routes.get("/v1/webhook_endpoints/:id") { _, context in try JSONResponse.make(WebhookEndpointResponse(try endpoint(context))) }
        routes.patch("/v1/webhook_endpoints/:id") { request, context in try await update(request, context) }
        routes.delete("/v1/webhook_endpoints/:id") { _, context in try delete(context) }
        routes.post("/v1/webhook_endpoints/:id/roll_secret") { _, context in try roll(context) }
        routes.get("/v1/webhook_endpoints/:id/deliveries") { _, context in
            let e = try endpoint(context)
            return try JSONResponse.make(ListResponse(data: try store.deliveries(endpointID: e.id, limit: 100).map(DeliveryResponse.init)))
        }
    }

    private func secretKey(_ p: Principal) throws {
        guard case .secretKey = p.kind else { throw APIError.insufficientScope("a secret key (webhook endpoints receive scores and candidates)") }
    }

    private func endpoint(_ context: ArgusRequestContext) throws -> WebhookEndpointRecord {
        let p = try context.principal()
        guard let id = context.parameters.get("id"), let e = try store.webhookEndpoint(tenant: p.tenantID, mode: p.mode, id: id) else {
            throw APIError.notFound("webhook endpoint")
        }
        return e
    }

    static func events(_ names: [String]?) throws -> Set<EventType>? {
        guard let names else { return nil }
        var out = Set<EventType>()
        for name in names {
            guard let e = EventType(rawValue: name) else {
                throw APIError.invalidRequest("events: \(name.prefix(60)) is not one of \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.insert(e)
        }
        guard !out.isEmpty else { throw APIError.invalidRequest("events: expected at least one event type") }
        return out
    }

    func checked(_ url: String) async throws -> String {
        do { try await WebhookTargets.check(url, allowPrivate: allowPrivate) } catch let refusal as WebhookTargets.Refusal {
            throw APIError.invalidRequest(refusal.description)
        }
        return url
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try secretKey(p)
        let input = try await body.decode(WebhookEndpointRequest.self, from: request)
        guard let url = input.url else { throw APIError.invalidRequest("url is required") }
        guard let events = try Self.events(input.events) else { throw APIError.invalidRequest("events is required") }
        guard try store.webhookEndpoints(tenant: p.tenantID, mode: p.mode).count < 16 else { throw APIError.invalidRequest("at most 16 endpoints per mode") }
        let (endpoint, secret) = try store.createWebhookEndpoint(tenant: p.tenantID, mode: p.mode, url: try await checked(url), events: events)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "webhooks.create", target: endpoint.id,
                                   outcome: "created", requestID: context.requestID))
        var response = WebhookEndpointResponse(endpoint)
        response.secret = secret
        return try JSONResponse.make(response, status: .created)
    }

    func update(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try secretKey(p)
        let e = try endpoint(context)
        let input = try await body.decode(WebhookEndpointRequest.self, from: request)
        let url = try await input.url.asyncMap(checked)
        guard let updated = try store.updateWebhookEndpoint(tenant: p.tenantID, mode: p.mode, id: e.id, url: url, events: try Self.events(input.events),
                                                            enabled: input.enabled) else { throw APIError.notFound("webhook endpoint") }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "webhooks.update", target: e.id,
                                   outcome: "updated", requestID: context.requestID))
        return try JSONResponse.make(WebhookEndpointResponse(updated))
    }

    func delete(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        try secretKey(p)
        let e = try endpoint(context)
        _ = try store.deleteWebhookEndpoint(tenant: p.tenantID, mode: p.mode, id: e.id)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "webhooks.delete", target: e.id,
                                   outcome: "deleted", requestID: context.requestID))
        return try JSONResponse.make(DeletedResponse(id: e.id))
    }

    func roll(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        try secretKey(p)
        let e = try endpoint(context)
        guard let secret = try store.rollWebhookSecret(tenant: p.tenantID, mode: p.mode, id: e.id) else { throw APIError.notFound("webhook endpoint") }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "webhooks.roll_secret", target: e.id,
                                   outcome: "rolled", requestID: context.requestID))
        var response = WebhookEndpointResponse(e)
        response.secret = secret
        return try JSONResponse.make(response)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
