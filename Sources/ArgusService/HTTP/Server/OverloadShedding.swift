import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Refuses analysis requests on the event loop while the analysis queue is full: 503 `overloaded`
/// with `Retry-After`, the same answer `AdmissionMiddleware` gives, without a task, a request
/// context, the router or a middleware. Under overload most requests are refusals (wrk's clients
/// at 64 connections ask again the instant they are refused, about 2,000 times a second); on the
/// event loop each costs a parse, a timer and a write, and no hop to another thread.
///
/// A refusal is answered as soon as its body has arrived; but when the same connection had an
/// answer with `Retry-After` (a 503 or a 429) less than a second before, and its client asked again
/// anyway, only `pacing` after its head arrived: a client that asks again at once is held to a few
/// dozen requests a second per connection, while one that waits as told is answered at once.
///
/// It refuses only what it can answer alone: a request on a connection with no other request in
/// progress (so answers keep their order), without `Expect` or an upgrade, on one of the analysis
/// routes. Anything else goes on, and `AdmissionMiddleware` still refuses it if the queue is full.
/// Parts of a pipelined request that arrive while a refusal waits are held and replayed after it.
/// A request with `Connection: close` has its connection closed after the answer.
///
/// It also closes a connection idle for `idle` between requests (Hummingbird's idle timer sits
/// after this handler and would not see refused requests, so it is turned off): counted from the
/// last answer's end, or the connection's opening, while no request is in progress.
final class OverloadShedHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What `refuse` needs from the service.
    struct Shedder: Sendable {
        /// True while an analysis submitted now would be refused.
        let isFull: @Sendable () -> Bool
        /// The answer, with a fresh request id.
        let answer: @Sendable () -> (HTTPResponse, ByteBuffer)
        /// Called once per refusal with the route (as the router names it) and its seconds.
        let record: @Sendable (_ route: String, _ seconds: Double) -> Void
        let pacing: TimeAmount
    }

    private enum Refusal {
        case none
        /// Refusing the request whose head came at `since` for `route`; `paced`: the pacing has
        /// passed; `ended`: its end has arrived.
        case refusing(route: String, since: NIODeadline, paced: Bool, ended: Bool, close: Bool)
    }

    private let shedder: Shedder
    private let idle: TimeAmount
    private var refusal = Refusal.none
    private var held: [HTTPRequestPart] = []
    private var pacingTimer: Scheduled<Void>?
    /// Requests whose head has been read and whose answer has not ended (forwarded or refused).
    private var inProgress = 0
    /// Times come from the event loop's clock (an embedded loop's in tests).
    private var lastActive = NIODeadline.uptimeNanoseconds(0)
    private var idleTimer: Scheduled<Void>?
    /// When this connection last had an answer with `Retry-After`.
    private var lastRefusal: NIODeadline?
    /// How long a client is asked to wait (`Retry-After: 1`).
    static let retryAfter = TimeAmount.seconds(1)

    init(shedder: Shedder, idle: TimeAmount) {
        self.shedder = shedder
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActive = context.eventLoop.now
        armIdle(context: context, in: idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        pacingTimer?.cancel()
        idleTimer = nil
        pacingTimer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        pacingTimer?.cancel()
        held.removeAll()
        context.fireChannelInactive()
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read(unwrapInboundIn(data), context: context)
    }

    private func read(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        guard case .refusing(let route, let since, let paced, let ended, let close) = refusal else {
            if case .head(let head) = part {
                inProgress += 1
                if inProgress == 1, let route = Self.analysisRoute(head), shedder.isFull() {
                    let now = context.eventLoop.now
                    let impatient = lastRefusal.map { now - $0 < Self.retryAfter } ?? false
                    let close = head.headerFields[.connection].map(Self.asksToClose) ?? false
                    refusal = .refusing(route: route, since: now, paced: !impatient, ended: false, close: close)
                    if impatient {
                        let loop = context.eventLoop.assumeIsolated()
                        pacingTimer = loop.scheduleTask(in: shedder.pacing) { [weak self] in self?.paced(context: context) }
                    }
                    return
                }
            }
            context.fireChannelRead(wrapInboundOut(part))
            return
        }
        if ended {
            // The next request, pipelined behind the refused one: it waits for that answer.
            held.append(part)
            return
        }
        // The refused request's body is dropped as it comes.
        if case .end = part {
            refusal = .refusing(route: route, since: since, paced: paced, ended: true, close: close)
            if paced { answer(context: context) }
        }
    }

    private func paced(context: ChannelHandlerContext) {
        pacingTimer = nil
        guard case .refusing(let route, let since, _, let ended, let close) = refusal else { return }
        refusal = .refusing(route: route, since: since, paced: true, ended: ended, close: close)
        if ended { answer(context: context) }
    }

    private func answer(context: ChannelHandlerContext) {
        guard case .refusing(let route, let since, _, _, let close) = refusal else { return }
        refusal = .none
        var (head, body) = shedder.answer()
        if close { head.headerFields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        ended(context: context)
        lastRefusal = context.eventLoop.now
        shedder.record(route, Double((context.eventLoop.now - since).nanoseconds) / 1e9)
        if close {
            held.removeAll()
            context.close(promise: nil)
            return
        }
        // Replay what came behind it; a part may start another refusal, which holds the rest again.
        var parts = held[...]
        held = []
        while let part = parts.popFirst() {
            read(part, context: context)
            if case .refusing(_, _, _, true, _) = refusal {
                held.append(contentsOf: parts)
                return
            }
        }
    }

    /// The router's name for an analysis route that `head` asks for with POST, or nil.
    static func analysisRoute(_ head: HTTPRequest) -> String? {
        guard head.method == .post, head.headerFields[.expect] == nil,
              !(head.headerFields[.connection].map { Self.tokens($0).contains("upgrade") } ?? false),
              let target = head.path else { return nil }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let c = path.split(separator: "/")
        switch c.count {
        case 2 where c[0] == "v1" && c[1] == "verify": return "/v1/verify"
        case 2 where c[0] == "v1" && c[1] == "identify": return "/v1/identify"
        case 3 where c[0] == "v1" && c[1] == "customer" && c[2] == "faces": return "/v1/customer/faces"
        case 4 where c[0] == "v1" && c[1] == "subjects" && c[3] == "faces": return "/v1/subjects/:id/faces"
        default: return nil
        }
    }

    /// The comma-separated tokens of a header value, lowercased.
    static func tokens(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    static func asksToClose(_ connection: String) -> Bool { tokens(connection).contains("close") }

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.headerFields[.retryAfter] != nil: lastRefusal = context.eventLoop.now
        case .end: ended(context: context)
        default: break
        }
        context.write(data, promise: promise)
    }

    // MARK: idle connections

    private func ended(context: ChannelHandlerContext) {
        inProgress = max(0, inProgress - 1)
        lastActive = context.eventLoop.now
    }

    private func armIdle(context: ChannelHandlerContext, in amount: TimeAmount) {
        idleTimer?.cancel()
        let loop = context.eventLoop.assumeIsolated()
        idleTimer = loop.scheduleTask(in: amount) { [weak self] in self?.idleCheck(context: context) }
    }

    private func idleCheck(context: ChannelHandlerContext) {
        idleTimer = nil
        let quiet = context.eventLoop.now - lastActive
        if inProgress == 0 && quiet >= idle {
            context.close(promise: nil)
        } else {
            armIdle(context: context, in: inProgress > 0 ? idle : idle - quiet)
        }
    }
}
