import ArgusStore
public import Foundation
public import Hummingbird
public import Logging

/// The outermost middleware: stamps the request id on every response and renders every error
/// in the one error shape. Errors it does not know become an opaque 500 (logged with the id).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.argusRequestID] = context.requestID
            return response
        } catch let error as APIError {
            return APIError.render(status: error.status, type: error.type, code: error.code, message: error.message, requestID: context.requestID)
        } catch let error as StoreError {
            if case .unavailable = error { context.logger.error("store unavailable", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"]) }
            if case .sealed = error { context.logger.error("sealed value did not open", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"]) }
            let e = APIError(error)
            return APIError.render(status: e.status, type: e.type, code: e.code, message: e.message, requestID: context.requestID)
        } catch let error as HTTPError {
            let mapped: APIError
            switch error.status {
            case .notFound, .methodNotAllowed:
                if let allowed = OpenAPIDocument.allowedMethods(path: request.uri.path) {
                    // A known path with another method: 405 naming the methods it has.
                    var response = APIError.render(status: .methodNotAllowed, type: "invalid_request_error", code: "method_not_allowed",
                                                   message: "\(request.method) is not allowed on \(request.uri.path.prefix(200)); allowed: \(allowed.joined(separator: ", "))",
                                                   requestID: context.requestID)
                    response.headers[.allow] = allowed.joined(separator: ", ")
                    return response
                }
                mapped = APIError.notFound("route \(request.method) \(request.uri.path.prefix(200))")
            case .contentTooLarge: mapped = APIError(.contentTooLarge, type: "invalid_request_error", code: "payload_too_large", "The body is too large")
            case .unauthorized: mapped = .missingCredentials
            default: mapped = APIError(error.status, type: "invalid_request_error", code: "invalid_request", error.body ?? "Invalid request")
            }
            return APIError.render(status: mapped.status, type: mapped.type, code: mapped.code, message: mapped.message, requestID: context.requestID)
        } catch {
            context.logger.error("unhandled error", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
            let e = APIError.internalError
            return APIError.render(status: e.status, type: e.type, code: e.code, message: e.message, requestID: context.requestID)
        }
    }
}
