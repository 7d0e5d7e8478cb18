import ArgusEnrollment
public import Foundation
public import Hummingbird
import Synchronization

/// Counters for `/metrics`, in Prometheus's text exposition format.
final class ServiceMetrics: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let durations = Mutex<(sum: Double, count: Int)>((0, 0))

    func record(route: String, status: Int, seconds: Double) {
        counts.withLock { $0["\(route)|\(status)", default: 0] += 1 }
        durations.withLock { $0 = ($0.sum + seconds, $0.count + 1) }
    }

    /// Route counters, durations and embedding batches are process-wide (no tenant in them); the
    /// template gauge is the caller's.
    func exposition(templates: Int, embeddings: (batches: Int, chips: Int)) -> String {
        var out = "# HELP argus_requests_total Requests by route and status.\n# TYPE argus_requests_total counter\n"
        for (key, n) in counts.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1)
            out += "argus_requests_total{route=\"\(parts[0])\",status=\"\(parts.count > 1 ? String(parts[1]) : "")\"} \(n)\n"
        }
        let d = durations.withLock { $0 }
        out += "# HELP argus_request_duration_seconds Time spent serving requests.\n# TYPE argus_request_duration_seconds summary\n"
        out += "argus_request_duration_seconds_sum \(d.sum)\nargus_request_duration_seconds_count \(d.count)\n"
        out += "# HELP argus_embedding_batches_total Batches run by the embedding network (chips of concurrent requests go together).\n# TYPE argus_embedding_batches_total counter\nargus_embedding_batches_total \(embeddings.batches)\n"
        out += "# HELP argus_embedding_chips_total Chips embedded.\n# TYPE argus_embedding_chips_total counter\nargus_embedding_chips_total \(embeddings.chips)\n"
        out += "# HELP argus_templates Templates held in memory for the caller's tenant and mode.\n# TYPE argus_templates gauge\nargus_templates \(templates)\n"
        return out
    }
}

/// Measures every request for `/metrics` (inside the error middleware, so errors count too).
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let route = context.endpointPath ?? "unmatched"
        do {
            let response = try await next(request, context)
            metrics.record(route: context.endpointPath ?? route, status: response.status.code,
                           seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            return response
        } catch let error as APIError {
            metrics.record(route: context.endpointPath ?? route, status: error.status.code, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            throw error
        }
    }
}

/// Health, identity, metrics (secret keys only), JWKS and the OpenAPI document.
struct MetaController {
    let galleries: Galleries
    let tokens: SessionTokens
    let metrics: ServiceMetrics
    let embeddings: EmbeddingLane
    let openAPI: Data

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.get("/healthz") { _, _ in try JSONResponse.make(HealthResponse()) }
        router.get("/v1/ping") { _, context in
            let p = try context.principal()
            guard !p.isOperator, !p.isCustomer else { throw APIError.insufficientScope("a tenant credential") }
            return try JSONResponse.make(PingResponse(tenant: p.tenantID, mode: p.mode, credential: p.credentialID))
        }
        // A secret key's view: it shows traffic by route and the caller's own template count, never other tenants'.
        router.get("/metrics") { _, context in
            let p = try context.principal()
            guard case .secretKey = p.kind else { throw APIError.insufficientScope("a secret key (metrics)") }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            let templates = galleries.index(tenant: p.tenantID, mode: p.mode).count
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(templates: templates, embeddings: embeddings.counts))))
        }
        router.get("/.well-known/jwks.json") { _, _ in try JSONResponse.make(tokens.jwks()) }
        router.get("/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
    }
}
