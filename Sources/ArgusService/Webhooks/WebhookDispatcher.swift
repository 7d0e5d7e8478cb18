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

    func run() async throws {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        var lastSweep = Date.distantPast
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if Date().timeIntervalSince(lastSweep) > 5 {
                    _ = try store.announceExpiredSessions(now: Date())
                    lastSweep = Date()
                }
                let due = try store.dueDeliveries(limit: 16, now: Date())
                for delivery in due { await deliver(delivery, session) }
                if due.isEmpty { try? await Task.sleep(for: .milliseconds(250)) }
            } catch {
                logger.error("webhook dispatch", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
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
            try await WebhookTargets.check(d.url, allowPrivate: allowPrivate)
            guard let url = URL(string: d.url) else { throw WebhookTargets.Refusal.invalid("bad url") }
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = d.body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Argus-Webhooks/1", forHTTPHeaderField: "User-Agent")
            request.setValue(Self.signature(secret: d.secret, timestamp: Int(Date().timeIntervalSince1970), body: d.body), forHTTPHeaderField: "Argus-Signature")
            let (_, response) = try await session.data(for: request)
            status = (response as? HTTPURLResponse)?.statusCode
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
