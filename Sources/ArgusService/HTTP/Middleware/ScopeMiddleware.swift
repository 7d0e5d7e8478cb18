public import ArgusStore
public import Hummingbird

/// The requirement of a route group: the scope a caller must hold, and whether a session token
/// may call it at all. Routes are registered on the group of their requirement, so no handler
/// runs for a caller that lacks it.
struct ScopeMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    /// nil: any authenticated caller.
    let scope: Scope?
    let sessions: Bool
    var customers = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let p = try context.principal()
        // Operator keys act on tenants through the operator routes only, never inside a tenant.
        if p.isOperator { throw APIError.insufficientScope("a tenant credential (operator keys reach /v1/operator only)") }
        if p.isCustomer && !customers { throw APIError.insufficientScope(scope?.rawValue ?? "a key (customer tokens cannot call this route)") }
        if p.isSession && !sessions { throw APIError.insufficientScope(scope?.rawValue ?? "a key (session tokens cannot call this route)") }
        if let scope { try p.require(scope) }
        return try await next(request, context)
    }
}

extension RouterMethods<ArgusRequestContext> {
    /// A group whose routes require `scope` (and refuse session tokens unless `sessions`).
    func requiring(_ scope: Scope?, sessions: Bool = false, customers: Bool = false) -> RouterGroup<ArgusRequestContext> {
        group().add(middleware: ScopeMiddleware(scope: scope, sessions: sessions, customers: customers))
    }
}

/// Operator routes: operator keys only.
struct OperatorMiddleware: RouterMiddleware {
    typealias Context = ArgusRequestContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard try context.principal().isOperator else { throw APIError.insufficientScope("an operator key") }
        return try await next(request, context)
    }
}
