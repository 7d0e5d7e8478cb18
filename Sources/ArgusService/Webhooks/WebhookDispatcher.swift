import ArgusStore
import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle

/// Delivers the outbox: every pending delivery is POSTed (the event JSON, signed
/// `Argus-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) until a 2xx, with exponential
/// backoff, for up to `giveUpAfter` from the event; endpoints failing for `disableAfter` are disabled
/// with a reason. Deliveries live in the store, so a restart or a kill -9 loses none (at least once).
struct WebhookDispatcher: Service {
    let store: any Store
    let allowPrivate: Bool
    let retryBase: Double
    let giveUpAfter: Double
    let disableAfter: Double
    let logger: Logger

    final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        // @unchecked: stateless.
        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
                        completionHandler: @escaping (URLRequest?) -> Void) {
            completionHandler(nil)
        }
    }

    /// Deliveries in flight at once, and the deadline of one attempt, whatever the receiver does.
    static let concurrency = 8
    static let deadline: Duration = .seconds(15)

    func run() async throws {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Expired sessions are announced by a loop of their own: no receiver can hold them up.
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do { _ = try store.announceExpiredSessions(now: Date()) } catch { logger.error("session expiry sweep", metadata: ["error": "\(error)"]) }
                    try? await Task.sleep(for: .seconds(5))
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do {
                        // One attempt per endpoint at a time (the store hands out one each, claimed for this node),
                        // several endpoints at once, each bounded by a deadline.
                        let due = try store.dueDeliveries(limit: Self.concurrency, now: Date())
                        await withTaskGroup(of: Void.self) { batch in
                            for delivery in due { batch.addTask { await deliver(delivery, session) } }
                        }
                        if due.isEmpty { try? await Task.sleep(for: .milliseconds(250)) }
                    } catch {
                        logger.error("webhook dispatch", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            try await group.waitForAll()
        }
        session.invalidateAndCancel()
    }

    static func signature(secret: String, timestamp: Int, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    func deliver(_ d: DueDelivery, _ session: URLSession) async {
        var status: Int?
        var failure: String?
        do {
            let addresses = try await WebhookTargets.check(d.url, allowPrivate: allowPrivate)
            guard var components = URLComponents(string: d.url), let host = components.host, let first = addresses.first else {
                throw WebhookTargets.Refusal.invalid("bad url")
            }
            // Plain http connects to the very address that was checked (no second resolution to rebind);
            // https keeps the name, which its certificate must prove.
            let pinned = components.scheme?.lowercased() == "http" && first.count == 4
            if pinned { components.host = WebhookTargets.urlHost(first) }
            guard let url = components.url else { throw WebhookTargets.Refusal.invalid("bad url") }
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = d.body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Argus-Webhooks/1", forHTTPHeaderField: "User-Agent")
            if pinned { request.setValue(components.port.map { "\(host):\($0)" } ?? host, forHTTPHeaderField: "Host") }
            request.setValue(Self.signature(secret: d.secret, timestamp: Int(Date().timeIntervalSince1970), body: d.body), forHTTPHeaderField: "Argus-Signature")
            let prepared = request
            status = try await withThrowingTaskGroup(of: Int?.self) { race in
                race.addTask {
                    let (_, response) = try await session.data(for: prepared)
                    return (response as? HTTPURLResponse)?.statusCode
                }
                race.addTask {
                    try await Task.sleep(for: Self.deadline)
                    throw WebhookTargets.Refusal.invalid("no complete answer within \(Self.deadline)")
                }
                defer { race.cancelAll() }
                return try await race.next() ?? nil
            }
            if !(200..<300).contains(status ?? 0) { failure = "HTTP \(status ?? 0)" }
        } catch {
            failure = "\(error)"
        }
        let delivered = failure == nil
        let age = Date().timeIntervalSince(d.eventCreatedAt)
        let delay = min(3600, retryBase * pow(2, Double(d.attempts)))
        let retryAt: Date? = delivered || age + delay > giveUpAfter ? nil : Date().addingTimeInterval(delay)
        do {
            try store.recordDelivery(id: d.id, endpointID: d.endpointID, delivered: delivered, status: status, error: failure, retryAt: retryAt,
                                     disableBefore: Date().addingTimeInterval(-disableAfter))
        } catch {
            logger.error("webhook delivery record", metadata: ["delivery": "\(d.id)", "error": "\(error)"])
        }
    }
}
