public import ArgusEnrollment
public import ArgusFace
public import ArgusStore
public import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
public import Logging

/// Opens (or creates) everything the service needs: store, keys, signing keys, models, and the
/// in-memory galleries filled from the store.
public struct ArgusServiceRuntime: Sendable {
    public let configuration: ServiceConfiguration
    public let store: any Store
    public let galleries: Galleries
    let tokens: SessionTokens
    /// Live events for WebSocket listeners.
    let events: LiveEvents
    let failures: RateLimiter
    let faces: FaceAnalysisService
    /// Route counters and durations, shared by the router and the event loops' refusals.
    let metrics = ServiceMetrics()
    /// Held while the runtime lives: `argus enroll --data-dir` refuses a store a server is using
    /// (the embedded store only: a PostgreSQL store is shared by design).
    let lock: StoreLock?
    /// On a PostgreSQL store, what keeps this node's galleries in step with the other nodes' writes.
    public let follower: GalleryFollower?
    /// On a PostgreSQL store, the threads requests wait for the database on (see `StoreThreads`).
    let storeThreads: StoreThreads?
    /// The first secret key, present only on the very first start of a data directory.
    public let firstKey: String?
    /// On that first start, an invitation to sign up in the console (the token of `/console/signup?invite=`).
    public let firstSignupInvite: String?

    public static func open(_ configuration: ServiceConfiguration, pipeline: FacePipeline? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) async throws -> ArgusServiceRuntime {
        let lock: StoreLock?
        let store: any Store
        var logPosition: Int64?
        if let url = configuration.store {
            lock = nil
            let postgres = try PostgresStore(url: url, environment: environment)
            // Read before the load: the follower applies every entry after it (those the load saw change nothing).
            logPosition = try postgres.faceLogPosition()
            store = postgres
        } else {
            lock = try StoreLock(dataDirectory: configuration.dataDirectory)
            store = try SQLiteStore(dataDirectory: configuration.dataDirectory, environment: environment)
        }
        // A first key only for a store with no credential at all: never a fresh secret in the logs
        // of a server whose operator already made keys.
        let firstKey = try store.issueFirstKey()?.secret
        var invite: String?
        if firstKey != nil {
            let token = Secrets.base64URL(Secrets.randomBytes(32))
            try store.createInvite(InviteRecord(digest: ConsolePages.digest(token), tenantID: nil, role: .owner,
                                                expiresAt: Date().addingTimeInterval(ConsoleController.inviteLifetime)), createdBy: nil)
            invite = token
        }
        let tokens = try await SessionTokens(store: store, configuration: configuration)
        let galleries = Galleries(dimension: FaceEmbedder.dimension)
        // The galleries fill on a thread of their own (seconds at a million faces) while the models load.
        let started = ContinuousClock.now
        async let filling = onOwnThread(name: "argus-gallery-load") { [store] in try galleries.load(from: store) }
        let facePipeline = try pipeline ?? FacePipeline(models: ModelDirectory(path: configuration.modelsDirectory))
        // Failed authentications per address, shared by the HTTP API and the events socket.
        let failures = RateLimiter(rate: configuration.authFailuresPerSecond, burst: configuration.authFailureBurst)
        let loaded = try await filling
        let seconds = (ContinuousClock.now - started) / .milliseconds(1) / 1000
        var metadata: Logger.Metadata = ["path": "\(store.location)", "templates": "\(loaded)", "load_seconds": "\(seconds)"]
        if let sqlite = store as? SQLiteStore {
            let scan = sqlite.lastFaceScan
            metadata["source"] = "\(scan.source.rawValue)"
            metadata["from_snapshot"] = "\(scan.snapshotFaces)"
            metadata["from_store"] = "\(scan.storeFaces)"
            if let note = scan.note { logger.warning("\(note)") }
            let now = scan.storeFaces > configuration.gallerySnapshotThreshold || (configuration.gallerySnapshotThreshold == 0 && loaded > 0)
            GallerySnapshotter.start(sqlite, now: now, threshold: configuration.gallerySnapshotThreshold,
                                     interval: configuration.gallerySnapshotInterval, logger: logger)
        }
        var follower: GalleryFollower?
        if let postgres = store as? PostgresStore, let logPosition {
            let f = GalleryFollower(store: postgres, galleries: galleries, from: logPosition, logger: logger)
            try f.catchUp()
            f.start()
            follower = f
        }
        logger.info("store opened", metadata: metadata)
        return ArgusServiceRuntime(configuration: configuration, store: store, galleries: galleries, tokens: tokens,
                                   events: LiveEvents(store: store, customers: CustomerTokens(store: store, maxLifetime: configuration.customerTokenMaxLifetime),
                                                      failures: failures, relay: (store as? PostgresStore).map { LiveRelay(store: $0, logger: logger) }),
                                   failures: failures,
                                   faces: FaceAnalysisService(pipeline: facePipeline, configuration: configuration), lock: lock, follower: follower,
                                   storeThreads: follower == nil ? nil : Self.sharedStoreThreads, firstKey: firstKey,
                                   firstSignupInvite: invite)
    }

    /// One pool per process (tests open many runtimes): 32 threads, each mostly waiting on the database.
    static let sharedStoreThreads = StoreThreads(threads: 32)

    /// Stops the threads that follow other nodes (the face log and live events), for tests that
    /// open many runtimes in one process.
    public func stopFollowing() {
        follower?.stop()
        events.relay?.stop()
    }

    /// The router with every route, for `buildApplication` and for router-level tests.
    public func buildRouter() -> Router<ArgusRequestContext> {
        let router = Router(context: ArgusRequestContext.self)
        let body = RequestBody(maxBytes: configuration.maxBodyBytes, timeout: min(max(configuration.bodyTimeout, 0.1), 86_400))
        router.add(middleware: ErrorMiddleware())
        if let threads = storeThreads { router.add(middleware: StoreThreadsMiddleware(threads: threads)) }
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: AdmissionMiddleware(faces: faces))
        router.add(middleware: AuthenticationMiddleware(store: store, tokens: tokens,
                                                        customers: CustomerTokens(store: store, maxLifetime: configuration.customerTokenMaxLifetime),
                                                        limiter: RateLimiter(rate: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst),
                                                        failures: failures,
                                                        maxBodyBytes: configuration.maxBodyBytes))
        router.add(middleware: UserActionMiddleware(store: store, body: body))
        MetaController(galleries: galleries, tokens: tokens, metrics: metrics, embeddings: faces.embeddings, openAPI: OpenAPIDocument.data).register(router)
        KeysController(store: store, body: body).register(router.requiring(.keysManage))
        SigningController(store: store, body: body, lifetime: TimeInterval(min(300, max(1, configuration.userActionLifetime)))).register(keys: router.requiring(.keysManage), actions: router.requiring(nil))
        AppKeysController(store: store, body: body).register(router.requiring(.keysManage))
        OperatorController(store: store, body: body).register(router.group().add(middleware: OperatorMiddleware()))
        WebhooksController(store: store, body: body, allowPrivate: configuration.allowPrivateWebhooks).register(router.requiring(.keysManage))
        // Reached only without a WebSocket upgrade (the upgrade is taken before the router).
        router.requiring(nil, customers: true).get("/v1/events/ws") { _, _ -> Response in
            throw APIError.invalidRequest("open /v1/events/ws as a WebSocket (Upgrade: websocket)")
        }
        ConsoleController(store: store, galleries: galleries, pages: ConsolePages(secureCookies: configuration.secureCookies),
                          openSignup: configuration.openSignup).register(router)
        let enroller = Enroller(store: store, galleries: galleries)
        let subjects = SubjectsController(store: store, enroller: enroller, galleries: galleries, faces: faces, body: body, events: events)
        subjects.register(read: router.requiring(.subjectsRead), write: router.requiring(.subjectsWrite),
                          enrol: router.requiring(.subjectsWrite, sessions: true))
        MatchController(store: store, galleries: galleries, faces: faces, body: body, events: events)
            .register(verify: router.requiring(.verify, sessions: true, customers: true), identify: router.requiring(.identify))
        CustomerController(store: store, subjects: subjects)
            .register(keys: router.requiring(.keysManage), customers: router.requiring(nil, customers: true), settings: router.requiring(nil))
        SessionsController(store: store, tokens: tokens, configuration: configuration, body: body)
            .register(router.requiring(.sessionsCreate))
        return router
    }

    /// The one application builder, for `argus serve` and for the tests.
    public func buildApplication(logger: Logger) -> some ApplicationProtocol {
        let live = events
        return Application(router: buildRouter(),
                    server: server(events: live),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "argus"),
                    services: [WebhookDispatcher(store: store, allowPrivate: configuration.allowPrivateWebhooks, retryBase: configuration.webhookRetryBase,
                                                 giveUpAfter: configuration.webhookGiveUpAfter, disableAfter: configuration.webhookDisableAfter,
                                                 logger: logger)],
                    logger: logger)
    }

    /// Refusals answered on the event loops (see `OverloadShedHandler`), the same answer as
    /// `AdmissionMiddleware`'s, counted in the same metrics.
    private func overloadShedder() -> OverloadShedHandler.Shedder {
        let (faces, metrics) = (faces, metrics)
        let e = APIError.overloaded
        return .init(isFull: { faces.isFull },
                     answer: {
                         var (headers, data) = APIError.encoded(status: e.status, type: e.type, code: e.code, message: e.message,
                                                                requestID: ArgusRequestContext.newRequestID())
                         headers[.contentLength] = String(data.count)
                         return (HTTPResponse(status: e.status, headerFields: headers), ByteBuffer(bytes: data))
                     },
                     record: { route, seconds in metrics.record(route: route, status: e.status.code, seconds: seconds) },
                     pacing: .nanoseconds(Int64(AdmissionMiddleware.pacing / .nanoseconds(1))))
    }

    /// HTTP/1 with the events WebSocket, behind the read deadlines (`ReadDeadlineChannel`).
    private func server(events live: LiveEvents) -> HTTPServerBuilder {
        // Seconds, kept to what a timer can hold (0.1 s … a day) whatever a config file says.
        func amount(_ seconds: Double) -> TimeAmount { .milliseconds(Int64((seconds.isFinite ? min(max(seconds, 0.1), 86_400) : 86_400) * 1000)) }
        let idle = amount(configuration.idleTimeout), head = amount(configuration.headTimeout)
        // The backstop for bodies nobody reads: the body timeout and a grace for RequestBody's 408 to go first.
        let request = amount(configuration.bodyTimeout + 2)
        // Idle connections are closed by OverloadShedHandler, which sees the requests it refuses.
        let shedder = overloadShedder()
        let upgrade = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(additionalChannelHandlers: [RequestDeadlineHandler(deadline: request), OverloadShedHandler(shedder: shedder, idle: idle)],
                         idleTimeout: nil))
        return HTTPServerBuilder { responder in
            ReadDeadlineChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: upgrade) { request, channel, _ in
                // Only the events socket upgrades; everything else is ordinary HTTP. An address
                // past its failure budget gets the HTTP route's answer instead (429 with its credentials).
                let address = channel.remoteAddress?.ipAddress ?? "unknown"
                guard LiveEvents.isEventsPath(request), live.mayTry(address) else { return .dontUpgrade }
                return .upgrade([:], live.handler(for: request, address: address))
            }, idle: idle, head: head)
        }
    }
}
