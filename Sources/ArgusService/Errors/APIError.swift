public import Foundation
public import Hummingbird
public import HTTPTypes

/// Every error the API returns, rendered as `{"error": {"type", "code", "message", "request_id"}}`.
/// Unknown errors never reach a client as such: they become an opaque 500 with the request id.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let type: String
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, type: String, code: String, _ message: String) {
        (self.status, self.type, self.code, self.message) = (status, type, code, message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = request.headers[.argusRequestID] ?? ""
        return Self.render(status: status, type: type, code: code, message: message, requestID: requestID)
    }

    static func render(status: HTTPResponse.Status, type: String, code: String, message: String, requestID: String) -> Response {
        let (headers, data) = encoded(status: status, type: type, code: code, message: message, requestID: requestID)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The headers and body of an error answer (`render`'s, and the event loop's refusals').
    static func encoded(status: HTTPResponse.Status, type: String, code: String, message: String, requestID: String) -> (HTTPFields, Data) {
        struct Body: Encodable {
            struct Inner: Encodable { let type, code, message, request_id: String }
            let error: Inner
        }
        let data = (try? JSONEncoder().encode(Body(error: .init(type: type, code: code, message: message, request_id: requestID)))) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if !requestID.isEmpty { headers[.argusRequestID] = requestID }
        if status == .tooManyRequests || status == .serviceUnavailable || status.code == 507 { headers[.retryAfter] = "1" }
        // A body that did not arrive in time is still unread on the socket: the connection ends here.
        if status == .requestTimeout { headers[.connection] = "close" }
        return (headers, data)
    }

    // Authentication (401)
    static let missingCredentials = APIError(.unauthorized, type: "authentication_error", code: "missing_credentials",
                                             "No credentials: send Authorization: Bearer sk_… | rk_… | tok_…, or x-client-key and x-client-secret")
    static let invalidCredentials = APIError(.unauthorized, type: "authentication_error", code: "invalid_credentials", "The credentials are not valid")
    static let expiredCredentials = APIError(.unauthorized, type: "authentication_error", code: "expired_credentials", "The credentials have expired")
    /// A session token past its `exp`: the mobile SDK convention refreshes on this code.
    static let tokenExpired = APIError(.unauthorized, type: "authentication_error", code: "token_expired", "The session token has expired")
    static let revokedCredentials = APIError(.unauthorized, type: "authentication_error", code: "revoked_credentials", "The credentials were revoked")
    /// A credential with `signed_requests: required` sent a state-changing request without a user action.
    static let userActionRequired = APIError(.unauthorized, type: "authentication_error", code: "user_action_required",
                                             "This credential signs its state-changing requests: send x-argus-user-action (see /v1/auth/action/init)")
    static func userActionInvalid(_ why: String) -> APIError {
        APIError(.unauthorized, type: "authentication_error", code: "user_action_invalid", "The user action is not valid: \(why)")
    }
    /// A client-custody subject was verified without its key.
    static let subjectKeyRequired = APIError(.unauthorized, type: "authentication_error", code: "subject_key_required",
                                             "This subject's templates are sealed with its own key: send x-argus-subject-key")
    /// One answer for every wrong key, whatever is wrong with it: no oracle.
    static let subjectKeyInvalid = APIError(.unauthorized, type: "authentication_error", code: "subject_key_invalid",
                                            "The subject key does not open this subject's templates")
    // Permission (403)
    static func insufficientScope(_ scope: String) -> APIError {
        APIError(.forbidden, type: "permission_error", code: "insufficient_scope", "This credential lacks the scope \(scope)")
    }
    static let tenantSuspended = APIError(.forbidden, type: "permission_error", code: "tenant_suspended",
                                          "This tenant is suspended: its credentials and sessions are refused until it is resumed")
    static func modeMismatch(_ detail: String) -> APIError { APIError(.forbidden, type: "permission_error", code: "mode_mismatch", detail) }
    static func sessionSpent(_ detail: String) -> APIError { APIError(.forbidden, type: "permission_error", code: "session_spent", detail) }
    // Requests
    static func notFound(_ what: String) -> APIError { APIError(.notFound, type: "invalid_request_error", code: "not_found", "\(what) not found") }
    static func conflict(_ detail: String) -> APIError { APIError(.conflict, type: "invalid_request_error", code: "conflict", detail) }
    static func invalidRequest(_ detail: String) -> APIError {
        APIError(.badRequest, type: "invalid_request_error", code: "invalid_request", detail)
    }
    static func payloadTooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, type: "invalid_request_error", code: "payload_too_large", "The body exceeds \(limit) bytes")
    }
    static func unsupportedMediaType(_ got: String) -> APIError {
        APIError(.unsupportedMediaType, type: "invalid_request_error", code: "unsupported_media_type",
                 "Unsupported content type \(got): send application/json, image/jpeg, image/png or multipart/form-data")
    }
    static let rateLimited = APIError(.tooManyRequests, type: "rate_limit_error", code: "rate_limited", "Too many requests for this credential")
    static let tooManyFailures = APIError(.tooManyRequests, type: "rate_limit_error", code: "rate_limited",
                                          "Too many failed authentications from this address; retry later")
    /// The analysis queue is full, or the request's deadline passed while it waited.
    static let overloaded = APIError(.serviceUnavailable, type: "api_error", code: "overloaded", "The server is overloaded; retry later")
    // Faces (422)
    static func face(_ code: String, _ message: String) -> APIError {
        APIError(.unprocessableContent, type: "face_error", code: code, message)
    }
    /// The store could not do the work (busy past its timeout, I/O): nothing was changed.
    static func requestTimeout(_ seconds: Double) -> APIError {
        APIError(.requestTimeout, type: "invalid_request_error", code: "request_timeout",
                 "The request body did not arrive within \(Int(seconds)) seconds")
    }
    static let storageFull = APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), type: "api_error", code: "storage_full",
                                      "The server's disk is full; nothing was written; retry later")
    static let storeUnavailable = APIError(.serviceUnavailable, type: "api_error", code: "store_unavailable", "The store is unavailable; retry later")
    static let internalError = APIError(.internalServerError, type: "api_error", code: "internal_error", "Internal error")
}

extension HTTPField.Name {
    static let argusRequestID = HTTPField.Name("x-request-id")!
    static let clientKey = HTTPField.Name("x-client-key")!
    static let clientSecret = HTTPField.Name("x-client-secret")!
}
