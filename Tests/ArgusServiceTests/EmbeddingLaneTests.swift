import ArgusFace
import ArgusImaging
import Foundation
import Synchronization
import Testing
@testable import ArgusService

/// Batching across requests: what a chip's descriptor is must not depend on the batch it went in,
/// an idle executor embeds at once, and a busy one gathers chips while detections are queued.
@Suite("Embedding lane")
struct EmbeddingLaneTests {
    static func chips(_ n: Int, seed: UInt64) -> [RGBImage] {
        var rng = seed
        return (0..<n).map { _ in
            var image = RGBImage(width: FaceEmbedder.chipSize, height: FaceEmbedder.chipSize)
            for i in image.pixels.indices {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                image.pixels[i] = UInt8(truncatingIfNeeded: rng >> 56)
            }
            return image
        }
    }

    /// Alone or in a batch the network's GEMMs have other shapes, so the sums are rounded in
    /// another order: descriptors agree to float rounding (measured: |Δ| about 1e-7), not bit for bit.
    static func close(_ a: [Float], _ b: [Float]) -> Bool {
        guard a.count == 128, b.count == 128 else { return false }
        var dot = 0.0, na = 0.0, nb = 0.0, worst: Float = 0
        for i in 0..<128 {
            dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
            worst = max(worst, abs(a[i] - b[i]))
        }
        return worst <= 2e-6 && dot / (na * nb).squareRoot() >= 0.9999999
    }

    @Test("a chip's descriptor is the same, to float rounding, alone and in batches of 2 to 8")
    func batchInvariance() throws {
        let embedder = ServiceHarness.pipeline.embedder
        let chips = Self.chips(8, seed: 7)
        let alone = try chips.map { try embedder.descriptors(for: [$0], threads: 1)[0] }
        #expect(alone.count == 8)
        for size in [2, 3, 4, 8] {
            let together = try embedder.descriptors(for: Array(chips.prefix(size)), threads: 1)
            #expect(together.count == size)
            for i in 0..<size {
                #expect(Self.close(together[i], alone[i]), "chip \(i) in a batch of \(size)")
            }
        }
        // Distinct chips give distinct descriptors (so the comparison above can fail).
        #expect(!Self.close(alone[0], alone[1]))
    }

    /// With `maxWait` an hour, a chip that waited for partners would hit the time limit: no wall
    /// clock is read (with the whole suite on two cores one embedding took 23 s in a debug build).
    @Test("an idle executor embeds a chip at once, alone", .timeLimit(.minutes(10)))
    func idle() async throws {
        let executor = AnalysisExecutor(threads: 1, queueLimit: 4, deadline: .seconds(3600))
        let lane = EmbeddingLane(embedder: ServiceHarness.pipeline.embedder, executor: executor, maxBatch: 4, maxWait: .seconds(3600))
        let chip = Self.chips(1, seed: 11)[0]
        let descriptor = try await lane.descriptor(for: chip)
        #expect(descriptor == (try ServiceHarness.pipeline.embedder.descriptors(for: [chip], threads: 1)[0]), "a batch of one is the call alone")
        #expect(lane.counts == (1, 1))
    }

    @Test("while detections are queued, chips wait and go through the network together")
    func gathers() async throws {
        let executor = AnalysisExecutor(threads: 1, queueLimit: 8, deadline: .seconds(30))
        let lane = EmbeddingLane(embedder: ServiceHarness.pipeline.embedder, executor: executor, maxBatch: 4, maxWait: .seconds(30))
        let chips = Self.chips(3, seed: 13)
        let gate = DispatchSemaphore(value: 0)
        let order = Log()
        // The one thread is held by a "detection"; another waits in the queue.
        let busy = Task { try await executor.run { gate.wait(); order.append("first job") } }
        while executor.load.running == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let queued = Task { try await executor.run { order.append("queued job after \(lane.counts.batches) batches") } }
        while executor.load.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let descriptors = chips.map { chip in Task { try await lane.descriptor(for: chip) } }
        while lane.waiting < 3 { try await Task.sleep(for: .milliseconds(5)) }
        gate.signal()
        try await busy.value
        try await queued.value
        var results: [[Float]] = []
        for task in descriptors { results.append(try await task.value) }
        // The queued detection ran before the chips, which then went as one batch of three.
        #expect(order.entries == ["first job", "queued job after 0 batches"])
        #expect(lane.counts == (1, 3))
        let alone = try chips.map { try ServiceHarness.pipeline.embedder.descriptors(for: [$0], threads: 1)[0] }
        #expect(results.count == 3)
        for (r, a) in zip(results, alone) { #expect(Self.close(r, a)) }
    }

    @Test("a full batch does not wait for the queue to drain")
    func fullBatch() async throws {
        let executor = AnalysisExecutor(threads: 1, queueLimit: 8, deadline: .seconds(30))
        let lane = EmbeddingLane(embedder: ServiceHarness.pipeline.embedder, executor: executor, maxBatch: 2, maxWait: .seconds(30))
        let gate = DispatchSemaphore(value: 0)
        let order = Log()
        let busy = Task { try await executor.run { gate.wait() } }
        while executor.load.running == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let queued = Task { try await executor.run { order.append("queued job after \(lane.counts.batches) batches") } }
        while executor.load.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let chips = Self.chips(2, seed: 17)
        let tasks = chips.map { chip in Task { try await lane.descriptor(for: chip) } }
        // Both chips were handed over; the thread is still held, so they wait as one full batch.
        while lane.counts.chips + lane.waiting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        gate.signal()
        try await busy.value
        try await queued.value
        for task in tasks { _ = try await task.value }
        #expect(lane.counts == (1, 2))
        // The batch was full, so it ran before the queued job.
        #expect(order.entries == ["queued job after 1 batches"])
    }
}

private final class Log: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var entries: [String] { lines.withLock { $0 } }
}

/// A lane that runs its items one at a time and is due like the embedding lane: for the
/// executor's own accounting, without a network in the loop.
private final class CountingLane: AnalysisLane {
    private let items = Mutex<[(since: UInt64, run: @Sendable () -> Void)]>([])
    let maxWait: UInt64
    init(maxWait: UInt64) { self.maxWait = maxWait }

    func add(_ run: @escaping @Sendable () -> Void) {
        items.withLock { $0.append((DispatchTime.now().uptimeNanoseconds, run)) }
    }

    var due: UInt64? { items.withLock { $0.first.map { $0.since &+ maxWait } } }

    func take(jobsWaiting: Bool, now: UInt64) -> (@Sendable () -> Void)? {
        items.withLock { items -> (@Sendable () -> Void)? in
            guard let first = items.first, !jobsWaiting || now &- first.since >= maxWait else { return nil }
            items.removeFirst()
            return first.run
        }
    }
}

@Suite("Analysis executor with a lane")
struct AnalysisLaneStressTests {
    /// Jobs and lane items interleaved on two threads: every lane item runs, even those turned down
    /// while jobs were queued when no later job or item comes to wake a thread (with a maxWait of
    /// an hour, a stranded item would hit the time limit).
    @Test("no lane item is stranded", .timeLimit(.minutes(2)))
    func stranded() async throws {
        let executor = AnalysisExecutor(threads: 2, queueLimit: 10_000, deadline: .seconds(3600))
        let lane = CountingLane(maxWait: 3_600_000_000_000)
        executor.add(lane: lane)
        for round in 0..<2_000 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for j in 0..<(1 + round % 3) {
                    group.addTask { _ = try await executor.run { if (round + j) % 2 == 0 { usleep(100) } } }
                }
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                        lane.add { c.resume() }
                        executor.signal()
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
