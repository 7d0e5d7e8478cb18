public import Hummingbird

/// Sheds analysis requests while the analysis queue is full, before anything else is spent on
/// them: no authentication (two store reads and a digest), no body decoding, no session attempt.
/// A 503 says only that the server is busy, so answering it to an unauthenticated caller tells
/// nothing. Requests admitted here are checked again where they are queued.
///
/// A refused request is answered after waiting up to `pacing` for room (it is admitted if room
/// appears): a client that ignores Retry-After and asks again at once is held to a few dozen
/// requests a second per connection instead of thousands, which would otherwise take the cores
/// from the analyses it is waiting for. The refusal still comes well within 50 ms.
struct AdmissionMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let faces: FaceAnalysisService
    static let pacing = Duration.milliseconds(20)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, Self.analyses(request.uri.path), faces.isFull {
            var waited = Duration.zero
            while faces.isFull {
                guard waited < Self.pacing else { throw APIError.overloaded }
                try await Task.sleep(for: .milliseconds(5))
                waited += .milliseconds(5)
            }
        }
        return try await next(request, context)
    }

    /// The routes that queue an analysis: verify, identify and face enrolment.
    static func analyses(_ path: String) -> Bool {
        if path == "/v1/verify" || path == "/v1/identify" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 5 && parts[1] == "v1" && parts[2] == "subjects" && parts[4] == "faces"
    }
}
