import Dispatch
import Synchronization

/// A bounded hand-off from one producer thread to one consumer: the producer blocks while
/// `depth` elements wait, the consumer while none does. Either side may stop early: `finish`
/// (the producer's end or failure) and `cancel` (the consumer has gone) wake the other.
final class ReadAhead<Element: Sendable>: Sendable {
    private struct State {
        var queue: [Element] = []
        var head = 0
        var finished = false
        var failure: (any Error)?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let items = DispatchSemaphore(value: 0)
    private let slots: DispatchSemaphore

    init(depth: Int) {
        precondition(depth > 0, "depth > 0")
        // Made at 0 and raised: libdispatch stops the process when a semaphore is freed below the
        // value it was made with, which an early stop (batches left queued) would leave it at.
        slots = DispatchSemaphore(value: 0)
        for _ in 0..<depth { slots.signal() }
    }

    /// Producer: waits for room. - Returns: false when the consumer has gone (stop producing).
    func put(_ element: Element) -> Bool {
        // Once cancelled, no wait for room: the consumer will never make any.
        guard !state.withLock({ $0.cancelled }) else { return false }
        slots.wait()
        let accepted = state.withLock { s -> Bool in
            guard !s.cancelled else { return false }
            s.queue.append(element)
            return true
        }
        if accepted { items.signal() }
        return accepted
    }

    /// Producer: no more elements; `failure` is thrown to the consumer after those already queued.
    func finish(_ failure: (any Error)? = nil) {
        state.withLock {
            $0.finished = true
            $0.failure = failure
        }
        items.signal()
    }

    /// Consumer: the next element, nil after the last; the producer's failure is thrown in turn.
    func take() throws -> Element? {
        items.wait()
        let next = state.withLock { s -> Result<Element?, any Error> in
            if s.head < s.queue.count {
                let e = s.queue[s.head]
                s.head += 1
                if s.head == s.queue.count {
                    s.queue.removeAll(keepingCapacity: true)
                    s.head = 0
                }
                return .success(e)
            }
            if let failure = s.failure { return .failure(failure) }
            return .success(nil)
        }
        if case .success(.some) = next { slots.signal() }
        return try next.get()
    }

    /// Consumer: stops the producer at its next `put`; what was queued is dropped (and its room given back).
    func cancel() {
        let dropped = state.withLock { s -> Int in
            s.cancelled = true
            let n = s.queue.count - s.head
            s.queue.removeAll()
            s.head = 0
            return n
        }
        for _ in 0...dropped { slots.signal() }
    }
}
