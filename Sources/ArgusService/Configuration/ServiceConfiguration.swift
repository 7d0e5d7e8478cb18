public import Foundation

/// Everything `argus serve` can be told: flags, `ARGUS_*` environment variables, or a JSON config
/// file, in that order of precedence (see `ServeCommand`).
public struct ServiceConfiguration: Sendable, Codable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "data"
    /// A PostgreSQL store (`postgres://USER@HOST:PORT/DB`) shared by several nodes; nil: the
    /// embedded SQLite store in `dataDirectory`.
    public var store: String?
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
    /// Threads of the analysis executor (0: one per core), jobs that may wait for one (0: eight
    /// per thread, about 0.7 s of queue on this machine's 2 cores) and how long a job may wait
    /// before it is refused with 503 `overloaded` (and never analysed).
    public var analysisThreads = 0
    public var analysisQueueLimit = 0
    public var analysisDeadlineMilliseconds = 10_000
    /// Batching across requests: at most `embeddingBatch` chips go through the embedding network
    /// together (1: each alone), and a chip waits for others at most `embeddingWaitMilliseconds`,
    /// and only while photos are queued for detection (an idle server never waits).
    public var embeddingBatch = 4
    public var embeddingWaitMilliseconds = 250
    /// A start-up that read more than this many faces from the store itself (not from the gallery
    /// snapshot) writes a fresh snapshot in the background, at low priority (0: after every start-up).
    public var gallerySnapshotThreshold = 10_000
    /// Every this many seconds a snapshot is written if faces were removed since the last one (a
    /// removed face's sealed template stays in the snapshot until then) or the face log holds
    /// `gallerySnapshotThreshold` entries since (0: never).
    public var gallerySnapshotInterval = 600.0
    /// Read timeouts, in seconds: a connection's first request head must arrive whole within
    /// `headTimeout`, an idle keep-alive connection (or a later head) is closed after `idleTimeout`,
    /// and a request body must arrive whole within `bodyTimeout` (408 `request_timeout`).
    public var headTimeout = 10.0
    public var idleTimeout = 30.0
    public var bodyTimeout = 60.0
    /// Webhook targets on private and loopback addresses (`--allow-private-webhooks`; tests use loopback).
    public var allowPrivateWebhooks = false
    /// Webhook retries: the first delay (doubling, at most an hour), how long an event is retried, and
    /// how long an endpoint may fail every delivery before it is disabled (seconds).
    public var webhookRetryBase = 10.0
    public var webhookGiveUpAfter = 86_400.0
    public var webhookDisableAfter = 259_200.0
    /// Longest lifetime (`exp − iat`, seconds) a customer token may claim.
    public var customerTokenMaxLifetime = 3_600
    /// Console sign-up without an invitation (`--open-signup`); by default an invitation is needed.
    public var openSignup = false
    /// Console cookies with `Secure` (set when a TLS-terminating proxy serves the console).
    public var secureCookies = false
    /// Seconds a user-action challenge (and the action made of it) stays valid: at most 300.
    public var userActionLifetime = 300
    public var issuer = "argus"
    public var audience = "argus-session"

    public init() {}

    enum CodingKeys: String, CodingKey {
        case host, port, dataDirectory, store, modelsDirectory, maxBodyBytes, sessionDefaultTTL, sessionMaxTTL, sessionMaxAttempts
        case signingKeyRotation, rateLimitPerSecond, rateLimitBurst, authFailuresPerSecond, authFailureBurst, maxImagePixels
        case analysisThreads, analysisQueueLimit, analysisDeadlineMilliseconds, embeddingBatch, embeddingWaitMilliseconds, gallerySnapshotThreshold, gallerySnapshotInterval, headTimeout, idleTimeout, bodyTimeout, issuer, audience, userActionLifetime, openSignup, secureCookies, customerTokenMaxLifetime, allowPrivateWebhooks, webhookRetryBase, webhookGiveUpAfter, webhookDisableAfter
    }

    /// A config file names only what it changes: absent fields keep their defaults, so files
    /// written before a field existed still load.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var out = ServiceConfiguration()
        func take<T: Decodable>(_ key: CodingKeys, _ path: WritableKeyPath<ServiceConfiguration, T>) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { out[keyPath: path] = value }
        }
        try take(.host, \.host); try take(.port, \.port); try take(.dataDirectory, \.dataDirectory)
        if let v = try c.decodeIfPresent(String.self, forKey: .store) { out.store = v }
        try take(.modelsDirectory, \.modelsDirectory); try take(.maxBodyBytes, \.maxBodyBytes)
        try take(.sessionDefaultTTL, \.sessionDefaultTTL); try take(.sessionMaxTTL, \.sessionMaxTTL)
        try take(.sessionMaxAttempts, \.sessionMaxAttempts); try take(.signingKeyRotation, \.signingKeyRotation)
        try take(.rateLimitPerSecond, \.rateLimitPerSecond); try take(.rateLimitBurst, \.rateLimitBurst)
        try take(.authFailuresPerSecond, \.authFailuresPerSecond); try take(.authFailureBurst, \.authFailureBurst)
        try take(.maxImagePixels, \.maxImagePixels); try take(.analysisThreads, \.analysisThreads)
        try take(.analysisQueueLimit, \.analysisQueueLimit); try take(.analysisDeadlineMilliseconds, \.analysisDeadlineMilliseconds)
        try take(.embeddingBatch, \.embeddingBatch); try take(.embeddingWaitMilliseconds, \.embeddingWaitMilliseconds)
        try take(.gallerySnapshotThreshold, \.gallerySnapshotThreshold); try take(.gallerySnapshotInterval, \.gallerySnapshotInterval)
        try take(.headTimeout, \.headTimeout); try take(.idleTimeout, \.idleTimeout); try take(.bodyTimeout, \.bodyTimeout)
        try take(.userActionLifetime, \.userActionLifetime)
        try take(.openSignup, \.openSignup); try take(.secureCookies, \.secureCookies)
        try take(.customerTokenMaxLifetime, \.customerTokenMaxLifetime)
        try take(.allowPrivateWebhooks, \.allowPrivateWebhooks); try take(.webhookRetryBase, \.webhookRetryBase)
        try take(.webhookGiveUpAfter, \.webhookGiveUpAfter); try take(.webhookDisableAfter, \.webhookDisableAfter)
        try take(.issuer, \.issuer); try take(.audience, \.audience)
        self = out
    }
}
