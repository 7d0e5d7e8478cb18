import ArgusStore

extension APIError {
    /// The HTTP face of a store failure.
    init(_ error: StoreError) {
        switch error {
        case .notFound(let what): self = .notFound(what)
        case .conflict(let why): self = .conflict(why)
        case .invalid(let why): self = .invalidRequest(why)
        case .sessionUnknown: self = .invalidCredentials
        case .sessionRevoked: self = .revokedCredentials
        case .sessionSpent(let why): self = .sessionSpent(why)
        case .unavailable: self = .storeUnavailable
        case .missing, .sealed: self = .internalError
        }
    }
}
