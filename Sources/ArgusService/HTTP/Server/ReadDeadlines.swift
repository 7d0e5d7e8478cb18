import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Read timeouts a slow client cannot stretch.
///
/// * A new connection may stay silent for `idle` (as an idle keep-alive connection may: client
///   pools open connections before they have a request for them); once its first request byte
///   arrives, the whole head must arrive within `head` (a client trickling header bytes one at a
///   time is disconnected). This guards the stretch Hummingbird's own idle timer does not: its
///   handler joins the pipeline only after the first head has been parsed (the WebSocket upgrade
///   path parses it first).
/// * Later heads, and a connection left idle between requests, are bounded by the idle timeout
///   that `OverloadShedHandler` keeps, which counts from the last answer's end.
/// * Bodies are bounded by `RequestBody`'s deadline (408) where a handler reads them, and every
///   request, read or not (a refusal's body is discarded after its answer), by
///   `RequestDeadlineHandler`: from its head to its end within the body timeout and a grace, or the
///   connection is closed.
struct ReadDeadlineChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let idle: TimeAmount
    let head: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FirstHeadDeadlineHandler(idle: idle, head: head), position: .first)
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes the connection when no request byte arrives within `idle` of its opening, or when the
/// bytes of one whole request head (up to its blank line) do not arrive within `head` of the first
/// of them; then steps out of the pipeline. It only scans for CRLFCRLF, so it costs a pass over
/// the head's bytes and nothing afterwards.
final class FirstHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let idle: TimeAmount
    private let head: TimeAmount
    private var timer: Scheduled<Void>?
    /// The last bytes seen, to find a CRLFCRLF split across reads.
    private var tail: UInt32 = 0
    private var done = false
    private var removed = false
    /// HTTP parsers skip CR and LF before a request line: bytes only count once another has come.
    private var started = false

    init(idle: TimeAmount, head: TimeAmount) {
        self.idle = idle
        self.head = head
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context: context, in: idle)
    }

    private func arm(context: ChannelHandlerContext, in amount: TimeAmount) {
        timer?.cancel()
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: amount) { [weak self] in
            guard let self, !self.done else { return }
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            let buffer = unwrapInboundIn(data)
            for byte in buffer.readableBytesView {
                if !started {
                    guard byte != 0x0D && byte != 0x0A else { continue }
                    started = true
                    arm(context: context, in: head)
                }
                tail = (tail << 8) | UInt32(byte)
                if tail == 0x0D0A_0D0A {
                    done = true
                    break
                }
            }
        }
        context.fireChannelRead(data)
        if done && !removed {
            removed = true
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

/// Closes the connection when a request's parts (head … end) take longer than `deadline` to arrive,
/// whether or not a handler reads the body: Hummingbird discards an unread body after the answer,
/// and its idle timer restarts with every chunk, so a body dripped a chunk at a time would
/// otherwise hold the connection for ever.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            timer?.cancel()
            let loop = context.eventLoop.assumeIsolated()
            timer = loop.scheduleTask(in: deadline) { context.close(promise: nil) }
        case .body:
            break
        case .end:
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }
}
