import ArgusStore
import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// Live events over WebSocket (`GET /v1/events/ws`): a customer token receives its own subject's
/// events (verification results, enrolments); a secret key all of its tenant's, in its mode. The
/// token comes in the upgrade's `Authorization` header, or as the first message
/// `{"token": "Bearer <jwt>"}` within 5 s. The socket closes with 4001 when the token expires, 4003
/// when its key is deleted or revoked (or the tenant suspended), 4000 when authentication fails.
final class LiveEvents: Sendable {
    struct Event: Sendable {
        let tenant: String
        let mode: Mode
        /// The end user's external id, when the event concerns one subject.
        let externalID: String?
        let json: String
    }

    /// Who listens, and to what.
    struct Listener: Sendable {
        let tenant: String
        let mode: Mode
        /// nil: every event of the tenant and mode (a secret key).
        let externalID: String?
        let expires: Date?
        /// Who holds it, for the per-holder cap.
        let holder: String
        /// Still allowed? (the key not deleted, the tenant active)
        let live: @Sendable () -> Bool
    }

    private let subscribers = Mutex<[UUID: (Listener, AsyncStream<String>.Continuation)]>([:])
    /// Open sockets by who holds them (a key, or a customer key and its `sub`), by tenant, and in all.
    private let open = Mutex<(byHolder: [String: Int], byTenant: [String: Int], total: Int)>(([:], [:], 0))
    static let perHolder = 5, perTenant = 500, total = 2_000
    let store: any Store
    let customers: CustomerTokens
    /// Failed authentications per address: the same budget as the HTTP API's.
    let failures: RateLimiter

    /// Other nodes on the same PostgreSQL store, when there are any.
    let relay: LiveRelay?

    init(store: any Store, customers: CustomerTokens, failures: RateLimiter, relay: LiveRelay? = nil) {
        self.store = store
        self.customers = customers
        self.failures = failures
        self.relay = relay
        relay?.start { [weak self] e in self?.deliver(e.json, tenant: e.tenant, mode: e.mode, externalID: e.externalID) }
    }

    /// Counts a socket in, or refuses it when its holder, its tenant or the server is at its cap.
    private func admit(_ l: Listener) -> Bool {
        open.withLock { o in
            guard o.total < Self.total, o.byHolder[l.holder, default: 0] < Self.perHolder, o.byTenant[l.tenant, default: 0] < Self.perTenant else { return false }
            o.total += 1
            o.byHolder[l.holder, default: 0] += 1
            o.byTenant[l.tenant, default: 0] += 1
            return true
        }
    }

    private func release(_ l: Listener) {
        open.withLock { o in
            o.total -= 1
            o.byHolder[l.holder, default: 1] -= 1
            o.byTenant[l.tenant, default: 1] -= 1
            if o.byHolder[l.holder] == 0 { o.byHolder[l.holder] = nil }
            if o.byTenant[l.tenant] == 0 { o.byTenant[l.tenant] = nil }
        }
    }

    func publish(_ type: String, tenant: String, mode: Mode, externalID: String?, data: [String: any Sendable]) {
        let body: [String: Any] = ["type": type, "created": Int(Date().timeIntervalSince1970), "data": data]
        guard let json = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return }
        let text = String(decoding: json, as: UTF8.self)
        deliver(text, tenant: tenant, mode: mode, externalID: externalID)
        relay?.send(tenant: tenant, mode: mode, externalID: externalID, json: text)
    }

    /// Hands an event to this node's listeners of its tenant, mode and subject.
    private func deliver(_ text: String, tenant: String, mode: Mode, externalID: String?) {
        let targets = subscribers.withLock { all in
            all.values.filter { $0.0.tenant == tenant && $0.0.mode == mode && ($0.0.externalID == nil || $0.0.externalID == externalID) }.map(\.1)
        }
        for t in targets { t.yield(text) }
    }

    /// The listener a bearer value authenticates, or nil.
    func listener(bearer header: String) -> Listener? {
        guard header.count <= 8192, header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        if token.hasPrefix("sk_") {
            let digest = Secrets.digest(token)
            guard let c = try? store.credential(lookup: "k:" + Secrets.hex(digest)), c.matches(secretDigest: digest), c.kind == .secret, c.isLive(),
                  (try? store.tenant(id: c.tenantID))??.status == .active else { return nil }
            let store = self.store
            return Listener(tenant: c.tenantID, mode: c.mode, externalID: nil, expires: c.expiresAt, holder: c.id) {
                ((try? store.credential(id: c.id)) ?? nil)?.isLive() == true && ((try? store.tenant(id: c.tenantID)) ?? nil)?.status == .active
            }
        }
        guard CustomerTokens.looksLikeJWT(token), let claims = try? customers.verify(token) else { return nil }
        let store = self.store
        // Live while that very key (by id, not by kid: a kid can be registered again) is.
        return Listener(tenant: claims.tenantID, mode: claims.mode, externalID: claims.subject, expires: claims.expires,
                        holder: "\(claims.keyID):\(claims.subject)") {
            ((try? store.customerKeys(tenant: claims.tenantID, mode: claims.mode)) ?? []).contains { $0.id == claims.keyID }
                && ((try? store.tenant(id: claims.tenantID)) ?? nil)?.status == .active
        }
    }

    /// Whether an upgrade request is for the events socket.
    static func isEventsPath(_ request: HTTPRequest) -> Bool {
        request.path.map { $0.split(separator: "?").first.map(String.init) == "/v1/events/ws" } ?? false
    }

    /// Whether an address may still try to authenticate.
    func mayTry(_ address: String) -> Bool { failures.hasTokens(address) }

    func handler(for request: HTTPRequest, address: String) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context> {
        let header = request.headerFields[.authorization]
        let preauthorised = header.flatMap(listener(bearer:))
        if header != nil && preauthorised == nil { _ = failures.allow(address) }
        return { [self] inbound, outbound, _ in
            var listener = preauthorised
            var messages = inbound.messages(maxSize: 16_384).makeAsyncIterator()
            if listener == nil {
                // The first message names the token, within 5 s.
                let timer = Task {
                    try await Task.sleep(for: .seconds(5))
                    try await outbound.close(.unknown(4000), reason: "no token within 5 s")
                }
                let first = try await messages.next()
                timer.cancel()
                if case .text(let text)? = first, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                   let token = object["token"] as? String {
                    listener = self.listener(bearer: token)
                }
                if listener == nil { _ = failures.allow(address) }
            }
            guard let listener else {
                try? await outbound.close(.unknown(4000), reason: "unauthorized")
                return
            }
            guard admit(listener) else {
                try? await outbound.close(.unknown(4029), reason: "too many open sockets")
                return
            }
            defer { release(listener) }
            let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(256))
            let id = UUID()
            subscribers.withLock { $0[id] = (listener, continuation) }
            defer { subscribers.withLock { _ = $0.removeValue(forKey: id) } }
            try await outbound.write(.text("{\"type\":\"subscribed\"}"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await text in stream { try await outbound.write(.text(text)) }
                }
                group.addTask {
                    // Closed when the token expires or its authority goes.
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        if let expires = listener.expires, expires <= Date() {
                            try await outbound.close(.unknown(4001), reason: "token_expired")
                            return
                        }
                        if !listener.live() {
                            try await outbound.close(.unknown(4003), reason: "key_deleted")
                            return
                        }
                    }
                }
                // Until the client (or the watchdog) closes; what the client sends is ignored.
                while try await messages.next() != nil {}
                group.cancelAll()
            }
            continuation.finish()
        }
    }
}
