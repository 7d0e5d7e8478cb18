/// The store's own failures, which the service maps to HTTP (and the CLI to messages). Nothing
/// of SQLite (or of any later backend) leaks past the store's boundary.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No such object in this tenant and mode ("subject", "key", "tenant", "session").
    case notFound(String)
    /// A uniqueness rule: an external id already taken.
    case conflict(String)
    /// A request the store refuses as such: a foreign cursor, rolling a revoked key.
    case invalid(String)
    /// A session id that was never minted.
    case sessionUnknown
    case sessionRevoked
    /// Spent by its success, or out of attempts.
    case sessionSpent(String)
    /// There is no store at this location (and creating one was not asked for).
    case missing(String)
    /// The database could not do the work (busy past its timeout, I/O, corruption).
    case unavailable(String)
    /// The disk is full: the write was rolled back whole; the store is usable again once there is room.
    case full(String)
    /// A sealed value did not open: the wrong master key, or tampering.
    case sealed(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) not found"
        case .conflict(let why), .invalid(let why), .sessionSpent(let why), .unavailable(let why), .full(let why), .sealed(let why): return why
        case .sessionUnknown: return "unknown session"
        case .sessionRevoked: return "the session was revoked"
        case .missing(let path):
            return "no Argus store at \(path) (start `argus serve --data-dir` there, or create a key with `argus keys create`)"
        }
    }
}
