import ArgusStore
import Crypto
import HTTPTypes
public import Foundation
public import Hummingbird

/// Signed state-changing requests. A request that carries `x-argus-user-action: ua_…` is checked
/// against that single-use action (its method, path and body digest, its expiry, its signer still
/// registered) before any handler runs; the action is spent by the check, whatever its outcome.
/// A credential with `signed_requests: required` cannot make a POST, PUT, PATCH or DELETE without
/// one (the two action routes excepted). The credential whose signers authorised the request is
/// recorded in the context, for routes that need a *target* credential's signature.
struct UserActionMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    let store: any Store
    let body: RequestBody
    static let stateChanging: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]
    static let exempt: Set<String> = ["/v1/auth/action/init", "/v1/auth/action"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let p = context.identity, !p.isEndUserToken, !p.isOperator, Self.stateChanging.contains(request.method), !Self.exempt.contains(request.uri.path) else {
            return try await next(request, context)
        }
        guard let header = request.headers[.userAction] else {
            if p.signedRequests { throw APIError.userActionRequired }
            return try await next(request, context)
        }
        let body = try await self.body.bytes(request)
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        // Spent only by a caller of its own tenant and mode: nobody else can burn another's action.
        guard header.count <= 64, let action = try store.consumeUserAction(id: header, tenant: p.tenantID, mode: p.mode),
              let owner = try store.credential(id: action.credentialID) else {
            throw APIError.userActionInvalid("unknown or already used user action")
        }
        guard action.expiresAt > Date() else { throw APIError.userActionInvalid("the user action has expired") }
        guard owner.isLive() else { throw APIError.userActionInvalid("the user action's credential is no longer live") }
        if p.signedRequests, owner.id != p.credentialID { throw APIError.userActionInvalid("the user action belongs to another credential") }
        guard action.method == request.method.rawValue else { throw APIError.userActionInvalid("the user action was signed for another method") }
        guard action.path == Self.target(request) else { throw APIError.userActionInvalid("the user action was signed for another path") }
        guard action.bodySHA256 == digest else { throw APIError.userActionInvalid("the user action was signed for another body") }
        guard try store.signers(credentialID: owner.id).contains(where: { $0.id == action.signerID && $0.revokedAt == nil }) else {
            throw APIError.userActionInvalid("the signer of the user action is no longer registered")
        }
        var context = context
        context.authorisedBy = owner.id
        var checked = request
        checked.body = .init(buffer: ByteBuffer(bytes: body))
        return try await next(checked, context)
    }

    /// What a user action binds: the request target as sent (path and query).
    static func target(_ request: Request) -> String {
        let full = request.uri.string
        return full.hasPrefix("/") ? full : request.uri.path
    }
}

extension HTTPField.Name {
    static let userAction = HTTPField.Name("x-argus-user-action")!
    static let subjectKey = HTTPField.Name("x-argus-subject-key")!
}
