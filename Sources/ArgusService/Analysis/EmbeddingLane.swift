import ArgusFace
import ArgusImaging
import Foundation
import Synchronization

/// Batching across requests: the chips of concurrent requests go through the embedding network
/// together, on the analysis executor's threads.
///
/// A chip waits only while admitted photos are queued for detection, and at most `maxWait` or
/// until `maxBatch` chips are gathered; on an idle server it is embedded at once (a batch of one),
/// so batching adds no latency when there is nothing to batch with. Under load a chip that waits
/// lets a thread start the next detection instead, so the cores stay busy either way. A chip's
/// descriptor depends on its batch only through float rounding (|Δ| < 2e-6, tested), so batching
/// changes no answer beyond that.
final class EmbeddingLane: AnalysisLane {
    private struct Pending {
        let chip: RGBImage
        let since: UInt64
        let done: @Sendable (Result<[Float], any Error>) -> Void
    }

    private struct State {
        var pending: [Pending] = []
        var batches = 0
        var chips = 0
    }

    let embedder: FaceEmbedder
    let maxBatch: Int
    let maxWait: UInt64
    private weak let executor: AnalysisExecutor?
    private let state = Mutex(State())

    init(embedder: FaceEmbedder, executor: AnalysisExecutor, maxBatch: Int, maxWait: Duration) {
        self.embedder = embedder
        self.executor = executor
        self.maxBatch = min(64, max(1, maxBatch))
        let c = maxWait.components
        self.maxWait = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
        executor.add(lane: self)
    }

    /// Batches run and chips embedded so far (for `/metrics`).
    var counts: (batches: Int, chips: Int) { state.withLock { ($0.batches, $0.chips) } }

    /// Chips waiting now.
    var waiting: Int { state.withLock { $0.pending.count } }

    /// The raw descriptor of `chip`, computed in a batch with whatever other chips are waiting.
    func descriptor(for chip: RGBImage) async throws -> [Float] {
        guard let executor else { throw AnalysisExecutor.Refusal.overloaded }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Float], any Error>) in
            let item = Pending(chip: chip, since: DispatchTime.now().uptimeNanoseconds,
                               done: { [resumer = executor.resumer] result in resumer.hand { continuation.resume(with: result) } })
            state.withLock { $0.pending.append(item) }
            executor.signal()
        }
    }

    var due: UInt64? { state.withLock { $0.pending.first.map { $0.since &+ maxWait } } }

    func take(jobsWaiting: Bool, now: UInt64) -> (@Sendable () -> Void)? {
        let batch = state.withLock { s -> [Pending]? in
            guard let oldest = s.pending.first else { return nil }
            guard s.pending.count >= maxBatch || !jobsWaiting || now &- oldest.since >= maxWait else { return nil }
            let n = min(maxBatch, s.pending.count)
            let taken = Array(s.pending.prefix(n))
            s.pending.removeFirst(n)
            s.batches += 1
            s.chips += n
            return taken
        }
        guard let batch else { return nil }
        return { [embedder] in
            do {
                let descriptors = try embedder.descriptors(for: batch.map(\.chip), threads: 1)
                for (item, descriptor) in zip(batch, descriptors) { item.done(.success(descriptor)) }
            } catch {
                for item in batch { item.done(.failure(error)) }
            }
        }
    }
}
