import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Refuses analysis requests on the event loop while the analysis queue is full: 503 `overloaded`
/// with `Retry-After`, the same answer `AdmissionMiddleware` gives, without a task, a request
/// context, the router or a middleware. Under overload most requests are refusals (wrk's clients
/// at 64 connections ask again the instant they are refused, about 2,000 times a second); on the
/// event loop each costs a parse, perhaps a timer, and a write, and no hop to another thread.
///
/// **When it answers.** At once, as soon as the head has arrived (the body is then read and
/// dropped, so the connection stays usable). But a connection that had an answer with
/// `Retry-After` (a 503 or a 429) less than a second before, and asks again anyway, is answered
/// `pacing` after its head: a client that asks again at once is held to a few dozen requests a
/// second per connection, while one that waits as told is answered at once. A request with
/// `Connection: close` is answered once its body has arrived too, and its connection closed after
/// the answer is written.
///
/// **What it takes.** Only what it can answer alone: a request on a connection with no other
/// request in progress (so answers keep their order), without `Expect` or an upgrade, on one of
/// the analysis routes. Anything else goes on; `AdmissionMiddleware` still refuses it if the queue
/// is full, paced the same way (the verdict travels in `askedAgainHeader`).
///
/// **Order.** Requests pipelined behind a refusal that waits for its pacing are held, and the
/// channel is not read meanwhile (so what is held is bounded by one read; beyond `heldLimit`
/// parts the connection is closed). Events (end of input, quiesce) and errors that come while a
/// refusal is in progress wait for it too, then follow in order.
///
/// **Idle connections.** It also closes a connection idle for `idle` (Hummingbird's idle timer
/// sits after this handler and would not see refused requests, so it is turned off), as
/// Hummingbird did: counted from the last request part read or the last answer's end; a request
/// whose body stops arriving counts as idle, one whose answer is being computed does not.
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

    /// Set on an analysis request it passes on when the connection asked again within
    /// `Retry-After` (any such header a client sent is removed first).
    static let askedAgainHeader = HTTPField.Name("x-argus-asked-again")!
    /// How long a client is asked to wait (`Retry-After: 1`).
    static let retryAfter = TimeAmount.seconds(1)
    /// Held parts beyond which a pipelining connection is closed.
    static let heldLimit = 1024

    private struct Refusal {
        let route: String
        let since: NIODeadline
        let close: Bool
        var paced: Bool
        var answered = false
        var ended = false
    }

    private enum Held {
        case part(HTTPRequestPart)
        case event(Any)
        case error(any Error)
    }

    private let shedder: Shedder
    private let idle: TimeAmount
    private var refusal: Refusal?
    private var pacingTimer: Scheduled<Void>?
    private var held: [Held] = []
    private var heldStart = 0
    /// A read asked for while parts were held, to be passed on once they have been replayed.
    private var readWithheld = false
    /// Requests whose head has been read and whose answer has not ended (passed on or refused).
    private var inProgress = 0
    /// A request's head has been read and its end has not.
    private var reading = false
    /// Times come from the event loop's clock (an embedded loop's in tests).
    private var lastActive = NIODeadline.uptimeNanoseconds(0)
    private var idleTimer: Scheduled<Void>?
    /// When this connection last had an answer with `Retry-After`.
    private var lastRefusal: NIODeadline?
    /// The connection is being closed (or is closed): nothing more is read, passed on or answered.
    private var closing = false

    init(shedder: Shedder, idle: TimeAmount) {
        self.shedder = shedder
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActive = context.eventLoop.now
        armIdle(context: context, in: idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        stopTimers()
        held.removeAll()
        heldStart = 0
        context.fireChannelInactive()
    }

    private func stopTimers() {
        idleTimer?.cancel()
        pacingTimer?.cancel()
        idleTimer = nil
        pacingTimer = nil
    }

    /// Parts wait while a refusal has its whole request and waits for its pacing.
    private var holdingParts: Bool { refusal.map { $0.ended && !$0.answered } ?? false }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        lastActive = context.eventLoop.now
        let part = unwrapInboundIn(data)
        if holdingParts {
            hold(.part(part), context: context)
        } else {
            process(part, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if refusal != nil && !closing {
            hold(.event(event), context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closing { return }
        guard let r = refusal else {
            context.fireErrorCaught(error)
            return
        }
        hold(.error(error), context: context)
        if r.ended {
            // A later request is malformed: the waiting refusal is answered now, then the error follows.
            pacingTimer?.cancel()
            pacingTimer = nil
            refusal?.paced = true
            answerIfDue(context: context)
        } else if abandonRefusal(context: context) {
            replay(context: context)
        }
    }

    /// The decoder failed inside the refused request (nothing more of it will come): unanswered, the
    /// error's answer (400) is the one it gets; answered already, the connection cannot go on and is
    /// closed. - Returns: false when it closed the connection.
    private func abandonRefusal(context: ChannelHandlerContext) -> Bool {
        guard let r = refusal else { return true }
        pacingTimer?.cancel()
        pacingTimer = nil
        refusal = nil
        reading = false
        if r.answered {
            close(context: context)
            return false
        }
        ended(context: context)
        return true
    }

    /// Closes the connection; nothing read from now on is passed on.
    private func close(context: ChannelHandlerContext) {
        closing = true
        held.removeAll()
        heldStart = 0
        context.close(promise: nil)
    }

    private func hold(_ item: Held, context: ChannelHandlerContext) {
        held.append(item)
        if held.count - heldStart > Self.heldLimit { close(context: context) }
    }

    private func process(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        if var r = refusal {
            // The refused request's body is dropped as it comes.
            if case .end = part {
                reading = false
                r.ended = true
                refusal = r
                if r.answered {
                    refusal = nil
                    replay(context: context)
                } else {
                    answerIfDue(context: context)
                }
            }
            return
        }
        switch part {
        case .head(var head):
            reading = true
            inProgress += 1
            let now = context.eventLoop.now
            let askedAgain = lastRefusal.map { now - $0 < Self.retryAfter } ?? false
            let route = Self.analysisRoute(head)
            if inProgress == 1, let route, shedder.isFull() {
                let close = head.headerFields[.connection].map(Self.asksToClose) ?? false
                refusal = Refusal(route: route, since: now, close: close, paced: !askedAgain)
                if askedAgain {
                    let loop = context.eventLoop.assumeIsolated()
                    pacingTimer = loop.scheduleTask(in: shedder.pacing) { [weak self] in self?.paced(context: context) }
                } else {
                    answerIfDue(context: context)
                }
                return
            }
            head.headerFields[Self.askedAgainHeader] = nil
            if askedAgain && route != nil { head.headerFields[Self.askedAgainHeader] = "1" }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            context.fireChannelRead(wrapInboundOut(part))
        case .end:
            reading = false
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    private func paced(context: ChannelHandlerContext) {
        pacingTimer = nil
        if closing { return }
        refusal?.paced = true
        answerIfDue(context: context)
    }

    /// Writes the refusal once it is due: paced, and (for `Connection: close`) whole.
    private func answerIfDue(context: ChannelHandlerContext) {
        guard var r = refusal, r.paced, !r.answered, r.ended || !r.close else { return }
        r.answered = true
        refusal = r
        var (head, body) = shedder.answer()
        if r.close { head.headerFields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        lastRefusal = context.eventLoop.now
        ended(context: context)
        shedder.record(r.route, Double((context.eventLoop.now - r.since).nanoseconds) / 1e9)
        if r.close {
            // Closed once the answer is out, so the close cannot overtake it.
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            closing = true
            held.removeAll()
            heldStart = 0
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if r.ended {
            refusal = nil
            replay(context: context)
        }
    }

    /// Goes on with what was held, in order, until a refusal holds parts again.
    private func replay(context: ChannelHandlerContext) {
        var replayed = false
        defer {
            // What was passed on outside a read of the socket (from a timer) must be followed by a
            // read-complete, or the async channel behind keeps it buffered.
            if replayed { context.fireChannelReadComplete() }
        }
        items: while heldStart < held.count && !closing {
            replayed = true
            switch held[heldStart] {
            case .part(let part):
                if holdingParts { break items }
                heldStart += 1
                process(part, context: context)
            case .event(let event):
                if refusal != nil { break items }
                heldStart += 1
                context.fireUserInboundEventTriggered(event)
            case .error(let error):
                if let r = refusal {
                    // Behind a whole request the error waits for its answer; inside one, it ends it.
                    if r.ended || !abandonRefusal(context: context) { break items }
                }
                heldStart += 1
                context.fireErrorCaught(error)
            }
        }
        if heldStart >= held.count {
            held.removeAll(keepingCapacity: true)
            heldStart = 0
        }
        if readWithheld && !holdingParts {
            readWithheld = false
            context.read()
        }
    }

    /// The router's name for an analysis route that `head` asks for with POST, or nil.
    static func analysisRoute(_ head: HTTPRequest) -> String? {
        guard head.method == .post, head.headerFields[.expect] == nil,
              !(head.headerFields[.connection].map { tokens($0).contains("upgrade") } ?? false),
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

    func read(context: ChannelHandlerContext) {
        if closing { return }
        if holdingParts {
            readWithheld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.headerFields[.retryAfter] != nil: lastRefusal = context.eventLoop.now
        case .end: ended(context: context)
        default: break
        }
        context.write(data, promise: promise)
    }

    // MARK: idle connections

    /// An answer has ended.
    private func ended(context: ChannelHandlerContext) {
        inProgress = max(0, inProgress - 1)
        if inProgress == 0 { lastActive = context.eventLoop.now }
    }

    private func armIdle(context: ChannelHandlerContext, in amount: TimeAmount) {
        idleTimer?.cancel()
        let loop = context.eventLoop.assumeIsolated()
        idleTimer = loop.scheduleTask(in: amount) { [weak self] in self?.idleCheck(context: context) }
    }

    private func idleCheck(context: ChannelHandlerContext) {
        idleTimer = nil
        if closing { return }
        // A request read whole and being answered is not idle, however long its answer takes.
        if !reading && inProgress > 0 {
            armIdle(context: context, in: idle)
            return
        }
        let quiet = context.eventLoop.now - lastActive
        if quiet >= idle {
            context.close(promise: nil)
        } else {
            armIdle(context: context, in: idle - quiet)
        }
    }
}
