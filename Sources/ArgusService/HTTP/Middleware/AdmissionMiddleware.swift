public import Hummingbird

/// Sheds analysis requests while the analysis queue is full, before anything else is spent on
/// them: no authentication (two store reads and a digest), no body decoding, no session attempt.
/// A 503 says only that the server is busy, so answering it to an unauthenticated caller tells
/// nothing. Requests admitted here are checked again where they are queued.
///
/// Most refusals never get here: `OverloadShedHandler` answers them on the event loop. This is the
/// check for the rest: a request that found room there and none here, a pipelined one, one with
/// `Expect`. It answers at once, or after `pacing` when the handler marked the request as asked
/// again within `Retry-After` (the same rule as on the event loop). Routes are matched as the
/// router resolved them (`endpointPath`), so spellings such as `/v1/verify/` are covered too.
struct AdmissionMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let faces: FaceAnalysisService
    /// How long the refusal of a client that asked again at once is held.
    static let pacing = Duration.milliseconds(20)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, Self.analyses.contains(context.endpointPath ?? ""), faces.isFull {
            if request.headers[OverloadShedHandler.askedAgainHeader] != nil { try await Task.sleep(for: Self.pacing) }
            throw APIError.overloaded
        }
        return try await next(request, context)
    }

    /// The routes (as the router resolved them) that queue an analysis.
    static let analyses: Set<String> = ["/v1/verify", "/v1/identify", "/v1/subjects/:id/faces", "/v1/customer/faces"]
}
