private import Glibc
import Dispatch

/// Activation buffers for one forward pass at a time, kept across calls so that a steady stream
/// of same-sized batches allocates nothing. Slots are reference counted: the current tensor holds
/// one reference and every `tag` that saved it holds one more.
///
/// Not thread-safe: one caller at a time (see `WorkspacePool`).
public final class Workspace: @unchecked Sendable {
    // @unchecked: a workspace is used by one thread at a time; `WorkspacePool` hands it over.

    struct Slot {
        var buffer: UnsafeMutablePointer<Float>
        var capacity: Int
        var references: Int
    }

    private var slots: [Slot] = []
    private(set) var scratch: UnsafeMutablePointer<Float>?
    private(set) var scratchCapacity = 0

    /// When set, kernels add the nanoseconds they spend per phase (for `argus bench embed --profile`).
    public var profile: [String: UInt64]?
    /// Floating-point operations per profiled phase, for GFLOP/s.
    public var flops: [String: Double] = [:]

    public init() {}

    @inline(__always)
    func timed<T>(_ phase: String, _ body: () -> T) -> T {
        guard profile != nil else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let result = body()
        profile?[phase, default: 0] += DispatchTime.now().uptimeNanoseconds - t0
        return result
    }

    /// Adds a convolution layer's time since `t0` and its operations to the profile, under a label
    /// naming its shape and `how` it ran.
    func record(_ conv: Convolution, _ outShape: Shape, since t0: UInt64, how: String) {
        let label = "conv \(conv.kernelHeight)x\(conv.kernelWidth)/\(conv.strideY) C\(conv.inChannels)→\(conv.filters) "
            + "\(outShape.height)×\(outShape.width)\(how)"
        profile?[label, default: 0] += DispatchTime.now().uptimeNanoseconds - t0
        flops[label, default: 0] += Double(conv.flopsPerOutputPixel * outShape.n * outShape.pixelsPerImage)
    }

    deinit {
        for slot in slots { free(slot.buffer) }
        free(scratch)
    }

    /// Total floats held, for diagnostics and tests.
    public var allocatedFloats: Int { slots.reduce(scratchCapacity) { $0 + $1.capacity } }

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(64, count * MemoryLayout<Float>.stride)) == 0, let raw else {
            fatalError("Workspace: cannot allocate \(count) floats")
        }
        return raw.bindMemory(to: Float.self, capacity: count)
    }

    /// A free slot of at least `count` floats, with one reference.
    func acquire(_ count: Int) -> Int {
        var best: Int?
        for (i, slot) in slots.enumerated() where slot.references == 0 && slot.capacity >= count {
            if best.map({ slots[$0].capacity > slot.capacity }) ?? true { best = i }
        }
        if let best {
            slots[best].references = 1
            return best
        }
        // Grow the largest free slot rather than adding one, so the set of slots stays small.
        if let i = slots.indices.filter({ slots[$0].references == 0 }).max(by: { slots[$0].capacity < slots[$1].capacity }) {
            free(slots[i].buffer)
            slots[i] = Slot(buffer: Self.allocate(count), capacity: count, references: 1)
            return i
        }
        slots.append(Slot(buffer: Self.allocate(count), capacity: count, references: 1))
        return slots.count - 1
    }

    func retain(_ slot: Int) { slots[slot].references += 1 }

    func release(_ slot: Int) {
        precondition(slots[slot].references > 0, "slot is referenced")
        slots[slot].references -= 1
    }

    func isShared(_ slot: Int) -> Bool { slots[slot].references > 1 }

    func pointer(_ slot: Int) -> UnsafeMutablePointer<Float> { slots[slot].buffer }

    func resetReferences() {
        for i in slots.indices { slots[i].references = 0 }
    }

    func scratch(atLeast count: Int) -> UnsafeMutablePointer<Float> {
        if let scratch, scratchCapacity >= count { return scratch }
        free(scratch)
        let fresh = Self.allocate(count)
        scratch = fresh
        scratchCapacity = count
        return fresh
    }
}
