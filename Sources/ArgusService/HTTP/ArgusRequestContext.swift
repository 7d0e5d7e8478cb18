public import ArgusStore
public import Hummingbird
public import HummingbirdAuth

/// Who is calling: resolved from the credentials before any body is read.
public struct Principal: Sendable {
    public enum Kind: Sendable {
        case secretKey
        case restrictedKey
        case client
        case session(SessionClaims)
        /// The platform operator (`op_…`): operator routes only, no tenant.
        case `operator`
        /// A customer token: acts for the one subject whose external id is `subject`.
        case customer(subject: String, gallery: String)
    }

    public let tenantID: String
    public let mode: Mode
    /// The credential id, or the session id for session tokens.
    public let credentialID: String
    public let kind: Kind
    public let scopes: Set<Scope>
    /// Its state-changing requests need a signed user action.
    public var signedRequests = false

    public var isSession: Bool {
        if case .session = kind { return true }
        return false
    }

    public var isCustomer: Bool {
        if case .customer = kind { return true }
        return false
    }

    /// A token held by an end user's device (a session or a customer token): it sends the photo, the server decides the rest.
    public var isEndUserToken: Bool { isSession || isCustomer }

    public var isOperator: Bool {
        if case .operator = kind { return true }
        return false
    }

    /// - Throws: 403 `insufficient_scope`.
    func require(_ scope: Scope) throws(APIError) {
        guard scopes.contains(scope) else { throw .insufficientScope(scope.rawValue) }
    }
}

/// Per-request facts only: the caller and the request id. Dependencies live in the controllers.
public struct ArgusRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    public var requestID: String
    /// The peer's IP address (failed authentications are rate limited by it).
    public let clientAddress: String
    /// The credential whose signers authorised this request with a user action, if one did.
    public var authorisedBy: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
        requestID = Self.newRequestID()
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        authorisedBy = nil
    }

    /// A request id: "req_" and 9 random bytes.
    static func newRequestID() -> String { "req_" + Secrets.random(bytes: 9) }

    /// The caller; the authentication middleware guarantees one on every protected route.
    func principal() throws(APIError) -> Principal {
        guard let identity else { throw .missingCredentials }
        return identity
    }
}
