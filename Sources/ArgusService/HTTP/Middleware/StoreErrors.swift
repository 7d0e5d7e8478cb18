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
        case .full: self = .storageFull
        case .missing, .sealed: self = .internalError
        }
    }
}

extension Store {
    /// Ends a session's claimed attempt that an error ended before a decision: shed by the server
    /// (`overloaded`: nothing was analysed) it is given back, otherwise it counts with its outcome.
    func endAttempt(_ session: SessionRecord, refusedWith error: APIError) throws {
        if error.code == APIError.overloaded.code {
            // The 503 stays the answer even if the refund cannot be written (the attempt then counts).
            try? refundAttempt(sessionID: session.id)
        } else {
            try recordAttempt(sessionID: session.id, score: nil, threshold: nil, match: nil, outcome: error.code, spending: false)
        }
    }
}
