public import ArgusFace
public import Foundation
public import Hummingbird
public import Logging

/// Opens (or creates) everything the service needs: store, keys, signing keys, models, and the
/// in-memory galleries filled from the store.
public struct ArgusServiceRuntime: Sendable {
    let deps: ServiceDependencies
    /// Held while the runtime lives: `argus enroll --data-dir` refuses a store a server is using.
    let lock: StoreLock
    /// The first secret key, present only on the very first start of a data directory.
    public let firstKey: String?
    public var configuration: ServiceConfiguration { deps.configuration }
    public var store: ArgusStore { deps.store }

    public static func open(_ configuration: ServiceConfiguration, pipeline: FacePipeline? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) async throws -> ArgusServiceRuntime {
        let lock = try StoreLock(dataDirectory: configuration.dataDirectory)
        let store = try ArgusStore(dataDirectory: configuration.dataDirectory, environment: environment)
        // A first key only for a store with no credential at all: never a fresh secret in the logs
        // of a server whose operator already made keys.
        let firstKey = try store.issueFirstKey()?.secret
        let tokens = try await SessionTokens(store: store, vault: store.vault, configuration: configuration)
        let facePipeline = try pipeline ?? FacePipeline(models: ModelDirectory(path: configuration.modelsDirectory))
        let galleries = GalleryRegistry(dimension: FaceEmbedder.dimension)
        var loaded = 0
        for face in try store.allFaces() {
            let template = try KeyVault.openTemplate(face.sealedTemplate, key: try store.dataKey(tenant: face.tenantID), faceID: face.id)
            try galleries.add(face: face.id, subject: face.subjectID, template: template,
                              key: .init(tenant: face.tenantID, mode: face.mode, gallery: face.gallery))
            loaded += 1
        }
        logger.info("store opened", metadata: ["path": "\(store.path)", "templates": "\(loaded)"])
        let deps = ServiceDependencies(configuration: configuration, store: store, tokens: tokens, galleries: galleries,
                                       faces: FaceAnalysisService(pipeline: facePipeline, configuration: configuration))
        return ArgusServiceRuntime(deps: deps, lock: lock, firstKey: firstKey)
    }

    /// The one application builder, for `argus serve` and for the tests.
    public func buildApplication(logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: ArgusRequestContext.self)
        let metrics = ServiceMetrics()
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: AuthenticationMiddleware(store: deps.store, tokens: deps.tokens,
                                                        limiter: RateLimiter(rate: deps.configuration.rateLimitPerSecond,
                                                                             burst: deps.configuration.rateLimitBurst),
                                                        failures: RateLimiter(rate: deps.configuration.authFailuresPerSecond,
                                                                              burst: deps.configuration.authFailureBurst),
                                                        maxBodyBytes: deps.configuration.maxBodyBytes))
        MetaController(deps: deps, metrics: metrics, openAPI: OpenAPIDocument.data).register(router)
        KeysController(deps: deps).register(router)
        SubjectsController(deps: deps).register(router)
        MatchController(deps: deps).register(router)
        SessionsController(deps: deps).register(router)
        return Application(router: router,
                           configuration: .init(address: .hostname(deps.configuration.host, port: deps.configuration.port), serverName: "argus"),
                           logger: logger)
    }
}

import Crypto

/// A Sendable box so per-tenant keys can sit in a dictionary during start-up.
struct SymmetricKeyBox: @unchecked Sendable {
    // @unchecked: SymmetricKey is an immutable value.
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
}
