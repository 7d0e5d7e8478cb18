import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Synchronization
import Testing
@testable import ArgusService

/// The event loop's refusals, on an embedded channel with its own clock: which requests it takes,
/// when it answers, what it holds back, and when it closes an idle connection.
@Suite("Overload shedding on the event loop")
struct OverloadShedHandlerTests {
    /// What the shedder's closures share with the test.
    final class Shared: Sendable {
        let full = Atomic<Bool>(true)
        let refusals = Mutex<[String]>([])
    }

    /// Records, behind the handler, the events that reach the application; in front of it, the reads it passes on.
    final class Recorder: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart
        var events: [String] = []
        var reads = 0
        var readCompletes = 0
        func channelReadComplete(context: ChannelHandlerContext) {
            readCompletes += 1
            context.fireChannelReadComplete()
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            events.append("\(event)")
            context.fireUserInboundEventTriggered(event)
        }
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
        var errors: [String] = []
        /// The last handler keeps errors (an embedded channel would rethrow them at the next write).
        var last = false
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            errors.append("\(error)")
            if !last { context.fireErrorCaught(error) }
        }
    }

    final class Fixture {
        let shared = Shared()
        let channel: EmbeddedChannel
        let front = Recorder()
        let behind = Recorder()

        init(idle: TimeAmount = .seconds(30)) throws {
            let shedder = OverloadShedHandler.Shedder(
                isFull: { [shared] in shared.full.load(ordering: .relaxed) },
                answer: {
                    var fields = HTTPFields()
                    fields[.retryAfter] = "1"
                    fields[.contentLength] = "2"
                    return (HTTPResponse(status: .serviceUnavailable, headerFields: fields), ByteBuffer(string: "{}"))
                },
                record: { [shared] route, _ in shared.refusals.withLock { $0.append(route) } },
                pacing: .milliseconds(20))
            channel = EmbeddedChannel()
            behind.last = true
            try channel.pipeline.syncOperations.addHandlers([front, OverloadShedHandler(shedder: shedder, idle: idle), behind])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// A POST's head alone (its body and end to follow, or not).
        func sendHead(_ path: String) throws {
            try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "x", path: path)))
        }

        func send(_ method: HTTPRequest.Method, _ path: String, _ fields: HTTPFields = [:], body: Bool = true) throws {
            try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: method, scheme: nil, authority: "x", path: path, headerFields: fields)))
            if body { try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "{\"image\": \"…\"}"))) }
            try channel.writeInbound(HTTPRequestPart.end(nil))
        }

        /// The statuses of the answers written since the last call.
        func answers() throws -> [Int] {
            var statuses: [Int] = []
            while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
                if case .head(let head) = part { statuses.append(head.status.code) }
            }
            return statuses
        }

        /// The answers written since the last call, with their Connection header.
        func answerHeads() throws -> [HTTPResponse] {
            var heads: [HTTPResponse] = []
            while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
                if case .head(let head) = part { heads.append(head) }
            }
            return heads
        }

        /// The request heads passed on to the application since the last call.
        func forwardedHeads() throws -> [HTTPRequest] {
            var heads: [HTTPRequest] = []
            while let part = try channel.readInbound(as: HTTPRequestPart.self) {
                if case .head(let head) = part { heads.append(head) }
            }
            return heads
        }

        func forwarded() throws -> [String] { try forwardedHeads().map { $0.path ?? "" } }

        /// The application answers the request in progress.
        func respond(_ status: HTTPResponse.Status, retryAfter: Bool = false) throws {
            var fields = HTTPFields()
            if retryAfter { fields[.retryAfter] = "1" }
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: status, headerFields: fields)))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
            _ = try answers()
        }
    }

    @Test("the analysis routes in their spellings, and nothing else")
    func routes() {
        func route(_ method: HTTPRequest.Method, _ path: String, _ fields: HTTPFields = [:]) -> String? {
            OverloadShedHandler.analysisRoute(HTTPRequest(method: method, scheme: nil, authority: "x", path: path, headerFields: fields))
        }
        #expect(route(.post, "/v1/identify") == "/v1/identify")
        #expect(route(.post, "/v1/identify/") == "/v1/identify")
        #expect(route(.post, "//v1//identify?top_k=5") == "/v1/identify")
        #expect(route(.post, "/v1/verify") == "/v1/verify")
        #expect(route(.post, "/v1/subjects/sub_123/faces") == "/v1/subjects/:id/faces")
        #expect(route(.post, "/v1/customer/faces") == "/v1/customer/faces")
        for name in ["/v1/identify", "/v1/verify", "/v1/subjects/:id/faces", "/v1/customer/faces"] {
            #expect(AdmissionMiddleware.analyses.contains(name), "\(name) is a route the middleware sheds too")
        }
        #expect(route(.get, "/v1/identify") == nil)
        #expect(route(.post, "/v1/subjects") == nil)
        #expect(route(.post, "/v1/subjects/sub_1/faces/extra") == nil)
        #expect(route(.post, "/v1/identifyx") == nil)
        #expect(route(.post, "/healthz") == nil)
        #expect(route(.post, "/v1/identify", [.expect: "100-continue"]) == nil)
        #expect(route(.post, "/v1/identify", [.connection: "Upgrade"]) == nil)
        #expect(route(.post, "/v1/identify", [.connection: "keep-alive"]) == "/v1/identify")
    }

    @Test("refused at once; asked again within Retry-After, refused after the pacing")
    func pacing() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        #expect(try f.forwarded().isEmpty)
        try f.send(.post, "/v1/identify")
        #expect(try f.answers().isEmpty)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(19))
        #expect(try f.answers().isEmpty)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try f.answers() == [503])
        // A client that waited as told is answered at once again.
        f.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        #expect(f.shared.refusals.withLock { $0 } == ["/v1/identify", "/v1/identify", "/v1/identify"])
        #expect(f.channel.isActive)
    }

    @Test("a request behind a paced refusal waits for it, then goes on in order")
    func pipelined() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/verify")
        #expect(try f.answers() == [503])
        try f.send(.post, "/v1/verify")
        try f.send(.get, "/healthz", body: false)
        #expect(try f.forwarded().isEmpty, "held while the refusal ahead of it waits")
        let completes = f.behind.readCompletes
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try f.answers() == [503])
        #expect(try f.forwarded() == ["/healthz"])
        #expect(f.behind.readCompletes == completes + 1, "a replay ends with a read-complete, or the async channel keeps what it was given")
    }

    @Test("room in the queue, another request in progress, Connection: close")
    func passesAndCloses() throws {
        let f = try Fixture()
        f.shared.full.store(false, ordering: .relaxed)
        try f.send(.post, "/v1/identify")
        #expect(try f.forwarded() == ["/v1/identify"])
        // Pipelined behind a request in progress: the application answers in order, so it is not taken here.
        f.shared.full.store(true, ordering: .relaxed)
        try f.send(.post, "/v1/identify")
        #expect(try f.forwarded() == ["/v1/identify"])
        try f.respond(.ok)
        try f.respond(.serviceUnavailable, retryAfter: true)
        // The application's 503 had Retry-After: the next refusal at once is paced.
        try f.send(.post, "/v1/identify", [.connection: "close"])
        #expect(try f.answers().isEmpty)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        let heads = try f.answerHeads()
        #expect(heads.map(\.status.code) == [503])
        #expect(heads.first?.headerFields[.connection] == "close")
        #expect(!f.channel.isActive, "closed after answering a request that asked to close")
    }

    @Test("a refusal is answered at its head, its body dropped as it comes")
    func answeredAtHead() throws {
        let f = try Fixture()
        try f.sendHead("/v1/identify")
        #expect(try f.answers() == [503], "answered before the body")
        for _ in 0..<100 { try f.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(repeating: 0x41, count: 1000))) }
        try f.channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try f.forwarded().isEmpty)
        // The connection goes on: the next request, with room in the queue, reaches the application.
        f.shared.full.store(false, ordering: .relaxed)
        try f.send(.get, "/healthz", body: false)
        #expect(try f.forwarded() == ["/healthz"])
    }

    @Test("asked again within Retry-After and passed on: marked, so the middleware paces it too; a client's own mark is removed")
    func askedAgainMark() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify", [OverloadShedHandler.askedAgainHeader: "1"])
        #expect(try f.answers() == [503])
        f.shared.full.store(false, ordering: .relaxed)
        try f.send(.post, "/v1/identify")
        let marked = try f.forwardedHeads()
        #expect(marked.count == 1)
        #expect(marked.first?.headerFields[OverloadShedHandler.askedAgainHeader] == "1")
        try f.respond(.ok)
        f.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try f.send(.post, "/v1/identify", [OverloadShedHandler.askedAgainHeader: "1"])
        let unmarked = try f.forwardedHeads()
        #expect(unmarked.count == 1)
        #expect(unmarked.first?.headerFields[OverloadShedHandler.askedAgainHeader] == nil, "a client cannot mark itself")
    }

    @Test("two refusals pipelined behind a paced one are each paced in turn; reads wait meanwhile")
    func repeatedPacing() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        try f.send(.post, "/v1/identify")
        try f.send(.post, "/v1/identify")
        try f.send(.get, "/healthz", body: false)
        let reads = f.front.reads
        f.channel.read()
        #expect(f.front.reads == reads, "no read while parts are held")
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try f.answers() == [503])
        #expect(try f.forwarded().isEmpty)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try f.answers() == [503])
        #expect(try f.forwarded() == ["/healthz"])
        #expect(f.front.reads == reads + 1, "the withheld read goes on after the replay")
    }

    @Test("end of input and other events wait for a refusal in progress, then follow it")
    func eventsWait() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        try f.send(.post, "/v1/identify")
        f.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(f.behind.events.isEmpty)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try f.answers() == [503])
        #expect(f.behind.events == ["\(ChannelEvent.inputClosed)"])
    }

    struct Malformed: Error {}

    @Test("a decoder error inside a refused body: unanswered, the error's answer is the one; answered, the connection closes")
    func errorInsideRefusal() throws {
        // Answered at its head, then the body turns out malformed: no second answer, the connection ends.
        let f = try Fixture()
        try f.sendHead("/v1/identify")
        #expect(try f.answers() == [503])
        f.channel.pipeline.fireErrorCaught(Malformed())
        #expect(f.behind.errors.isEmpty)
        #expect(!f.channel.isActive)

        // Asked again, so paced, and malformed before its answer: the error goes on, the refusal is dropped.
        let g = try Fixture()
        try g.send(.post, "/v1/identify")
        #expect(try g.answers() == [503])
        try g.sendHead("/v1/identify")
        g.channel.pipeline.fireErrorCaught(Malformed())
        #expect(g.behind.errors.count == 1)
        g.channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))
        #expect(try g.answers().isEmpty, "no refusal written after the error")
        #expect(g.shared.refusals.withLock { $0.count } == 1)
    }

    @Test("a malformed request pipelined behind a paced refusal: that refusal is answered, then the error follows")
    func errorBehindRefusal() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        try f.send(.post, "/v1/identify")
        try f.sendHead("/v1/verify")
        try f.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "{")))
        f.channel.pipeline.fireErrorCaught(Malformed())
        // The waiting refusal is answered at once; the verify, replayed, starts a paced refusal of its
        // own that the error then ends, unanswered: the error reaches the application.
        #expect(try f.answers() == [503])
        #expect(f.behind.errors.count == 1)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))
        #expect(try f.answers().isEmpty)
        #expect(try f.forwarded().isEmpty)
    }

    @Test("after a refusal that closes, nothing more is read or passed on")
    func nothingAfterClose() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        try f.send(.post, "/v1/identify", [.connection: "close"])
        try f.send(.get, "/healthz", body: false)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try f.answers() == [503])
        #expect(try f.forwarded().isEmpty)
        #expect(!f.channel.isActive)
    }

    @Test("a body that stops arriving counts as idle")
    func stalledBody() throws {
        let f = try Fixture(idle: .seconds(3))
        f.shared.full.store(false, ordering: .relaxed)
        try f.sendHead("/v1/subjects")
        try f.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "{")))
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2900))
        try f.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "\"")))
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2900))
        #expect(f.channel.isActive, "each part counts as activity")
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!f.channel.isActive)
    }

    @Test("what a pipelining client makes it hold is bounded: past the limit the connection is closed")
    func heldBound() throws {
        let f = try Fixture()
        try f.send(.post, "/v1/identify")
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        var n = 0
        while f.channel.isActive && n <= OverloadShedHandler.heldLimit + 10 {
            try f.channel.writeInbound(HTTPRequestPart.end(nil))
            n += 1
        }
        #expect(!f.channel.isActive)
        #expect(n == OverloadShedHandler.heldLimit + 1)
    }

    @Test("an idle connection is closed after the idle time, counted from the last answer, never while a request is in progress")
    func idle() throws {
        let f = try Fixture(idle: .seconds(3))
        f.shared.full.store(false, ordering: .relaxed)
        f.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try f.send(.post, "/v1/identify")
        #expect(try f.forwarded() == ["/v1/identify"])
        f.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(f.channel.isActive, "a request in progress is not idle")
        try f.respond(.ok)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2900))
        #expect(f.channel.isActive)
        // Refused requests count as activity too.
        f.shared.full.store(true, ordering: .relaxed)
        try f.send(.post, "/v1/identify")
        #expect(try f.answers() == [503])
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2900))
        #expect(f.channel.isActive)
        f.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!f.channel.isActive)
    }
}
