public import Hummingbird

/// Sheds analysis requests while the analysis queue is full, before anything else is spent on
/// them: no authentication (two store reads and a digest), no body decoding, no session attempt.
/// A 503 says only that the server is busy, so answering it to an unauthenticated caller tells
/// nothing. Requests admitted here are checked again where they are queued.
///
/// A refused request is answered after `pacing`: a client that ignores Retry-After and asks
/// again at once is held to a few dozen requests a second per connection instead of thousands,
/// which would otherwise take the cores from the analyses it is waiting for. The refusal still
/// comes well within 50 ms. Routes are matched as the router resolved them (`endpointPath`), so
/// spellings such as `/v1/verify/` are covered too.
struct AdmissionMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let faces: FaceAnalysisService
    static let pacing = Duration.milliseconds(20)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, Self.analyses.contains(context.endpointPath ?? ""), faces.isFull {
            // Answered after the pacing delay, room or not: letting waiters through the moment a slot
            // frees would send them all through authentication only to be refused at the queue.
            try await Task.sleep(for: Self.pacing)
            throw APIError.overloaded
        }
        return try await next(request, context)
    }

    /// The routes (as the router resolved them) that queue an analysis.
    static let analyses: Set<String> = ["/v1/verify", "/v1/identify", "/v1/subjects/:id/faces", "/v1/customer/faces"]
}
