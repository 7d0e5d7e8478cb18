public import Foundation

/// Everything `argus serve` can be told: flags, `ARGUS_*` environment variables, or a JSON config
/// file, in that order of precedence (see `ServeCommand`).
public struct ServiceConfiguration: Sendable, Codable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "data"
    public var modelsDirectory = "models"
    /// Largest request body accepted, in bytes (images included).
    public var maxBodyBytes = 12 << 20
    /// Session tokens: default and largest lifetime, in seconds, and attempts per token.
    public var sessionDefaultTTL = 1_800
    public var sessionMaxTTL = 3_600
    public var sessionMaxAttempts = 3
    /// Signing keys are replaced after this many seconds; old ones verify until their tokens expire.
    public var signingKeyRotation = 7 * 24 * 3_600
    /// Token bucket per credential: sustained requests per second and burst.
    public var rateLimitPerSecond = 50.0
    public var rateLimitBurst = 100.0
    /// Failed authentications per client address: sustained per second and burst.
    public var authFailuresPerSecond = 1.0
    public var authFailureBurst = 20.0
    /// Largest image, in pixels, the API decodes (the CLI allows 40 MP): with `analysisThreads`
    /// it bounds decode memory (about 3 bytes a pixel for each image being decoded).
    public var maxImagePixels = 25_000_000
    /// Threads of the analysis executor (0: one per core), jobs that may wait for one, and how
    /// long a job may wait before it is refused with 503 `overloaded`.
    public var analysisThreads = 0
    public var analysisQueueLimit = 64
    public var analysisDeadlineMilliseconds = 30_000
    public var issuer = "argus"
    public var audience = "argus-session"

    public init() {}
}

/// Test and live data never meet: every object and credential belongs to one mode.
public enum Mode: String, Sendable, Codable, CaseIterable {
    case test
    case live
}

/// What a restricted key, client credential or session may do.
public enum Scope: String, Sendable, Codable, CaseIterable, Hashable {
    case subjectsRead = "subjects:read"
    case subjectsWrite = "subjects:write"
    case verify
    case identify
    case sessionsCreate = "sessions:create"
    case keysManage = "keys:manage"
}
