import ArgusStore
import Foundation
import Logging
import Synchronization

/// Live events between nodes that share a PostgreSQL store: what one node publishes reaches the
/// WebSocket listeners of every other, through `NOTIFY argus_live` (the payload: the event and
/// who it is for). Live events are the immediate channel, not the durable one: one published while
/// a node's listening connection is down (a database restart) does not reach that node's sockets;
/// webhooks, from the store's outbox, are delivered whatever happens.
final class LiveRelay: Sendable {
    static let channel = "argus_live"
    struct Envelope: Codable {
        let node: String
        let tenant: String
        let mode: Mode
        let externalID: String?
        let json: String
    }

    let store: PostgresStore
    let logger: Logger
    /// This process, so that it does not deliver its own events twice.
    let node = Secrets.random(bytes: 12)
    /// Sends in order, off the request's thread.
    private let outbox = DispatchQueue(label: "argus.live-relay")
    private let stopped = Atomic<Bool>(false)
    private let listening = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    init(store: PostgresStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func send(tenant: String, mode: Mode, externalID: String?, json: String) {
        guard let data = try? JSONEncoder().encode(Envelope(node: node, tenant: tenant, mode: mode, externalID: externalID, json: json)) else { return }
        let payload = String(decoding: data, as: UTF8.self)
        outbox.async { [store, logger] in
            do { try store.notify(channel: Self.channel, payload: payload) } catch { logger.warning("a live event was not relayed", metadata: ["error": "\(error)"]) }
        }
    }

    /// Listens (reconnecting after a lost connection) and hands other nodes' events to `deliver`.
    func start(deliver: @escaping @Sendable (Envelope) -> Void) {
        let thread = Thread { [self] in
            var close: (@Sendable () -> Void)?
            while !stopped.load(ordering: .relaxed) {
                if !listening.load(ordering: .relaxed) {
                    close?()
                    // Set before listening: a connection lost at once clears it again.
                    listening.store(true, ordering: .relaxed)
                    close = try? store.listen(channel: Self.channel, { [node] payload in
                        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(payload.utf8)), envelope.node != node else { return }
                        deliver(envelope)
                    }, lost: { [self] in
                        listening.store(false, ordering: .relaxed)
                        wake.signal()
                    })
                    if close == nil { listening.store(false, ordering: .relaxed) }
                }
                _ = wake.wait(timeout: .now() + .seconds(1))
            }
            close?()
        }
        thread.name = "argus-live-relay"
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }
}
