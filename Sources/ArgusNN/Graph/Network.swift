private import CArgusBLAS
private import CArgusKernels
import Dispatch

/// A feed-forward network of `Operation`s, run on NHWC Float32 batches (layout: see `Shape`).
///
/// Immutable and `Sendable`: one loaded network serves concurrent callers. Each call draws a
/// `Workspace` from the pool. Batches are split across cores by image, each core running its
/// share single-threaded; a batch smaller than the cores splits each convolution's work instead.
/// Convolutions run on the direct microkernels of `kernels` with weights packed here, once
/// (`DirectConvolution`); `KernelMode.blas` runs them as im2col + single-threaded sgemm.
public final class Network: Sendable {
    /// The steps in forward order, fused. Convolutions the direct kernels run keep their weights only
    /// in their packing (`Convolution.hasWeights` is false here), which is why this is not public:
    /// these steps cannot build another network.
    let operations: [Operation]
    public let pool = WorkspacePool()
    /// The instruction set the convolutions run on.
    public let kernels: InstructionSet
    /// The precision of the convolutions' inputs and weights.
    public let precision: Precision
    /// Per operation: the packed convolution, where the direct kernel takes the layer.
    private let direct: [DirectConvolution?]

    /// - Parameters:
    ///   - operations: forward order; affine and ReLU steps are fused where possible.
    ///   - kernels: the microkernels' instruction set (default: `ARGUS_KERNELS`, else the best this CPU runs).
    ///   - precision: default `ARGUS_PRECISION`, else fp32.
    public init(operations: [Operation], fuse: Bool = true, kernels: InstructionSet? = nil, precision: Precision? = nil) {
        BLASThreads.useSingleThreadedBLAS()
        // An instruction set this CPU cannot run falls back to the best it can (`kernels` says which ran).
        let isa = (kernels ?? InstructionSet.processDefault).isSupported ? (kernels ?? InstructionSet.processDefault) : InstructionSet.best
        let precision = precision ?? Precision.processDefault
        let winograd = DirectConvolution.winogradAllowed && precision == .fp32
        var ops = fuse ? operations.fused() : operations
        if fuse && winograd { ops = ops.paddedForWinograd(isa: isa) }
        for i in ops.indices {
            guard case .convolution(let conv) = ops[i] else { continue }
            precondition(conv.hasWeights, "a convolution without weights: steps of a built network cannot build another")
            if precision == .bf16 {
                var kf = conv.weights
                kf.withUnsafeMutableBufferPointer { argus_round_bf16($0.baseAddress, $0.baseAddress, $0.count) }
                ops[i] = .convolution(conv.with(weights: kf, bias: conv.bias))
            }
        }
        let packed = ops.map { op -> DirectConvolution? in
            guard case .convolution(let conv) = op else { return nil }
            return DirectConvolution(conv, isa: isa, winograd: winograd)
        }
        // A packed layer's weights live in its packing only: one copy of the model in memory.
        for i in ops.indices {
            if let p = packed[i] { ops[i] = .convolution(p.conv) }
        }
        self.operations = ops
        self.kernels = isa
        self.precision = precision
        direct = packed
    }

    /// Loading a model builds its weights several times over (file, parse, fusion, packing); model
    /// loaders call this when done, so that the freed copies are handed back to the system rather
    /// than kept resident for the life of the process.
    public static func releaseLoadingMemory() { _ = argus_release_free_memory() }

    /// Whether operation `index` runs on the direct kernels (for tests).
    func direct(at index: Int) -> Bool { direct.indices.contains(index) && direct[index] != nil }

    /// Whether operation `index` runs as Winograd for this output shape (for tests).
    func winograd(at index: Int, output: Shape) -> Bool {
        direct.indices.contains(index) && direct[index]?.usesWinograd(output) == true
    }

    /// The output shape for an input shape, checking every step.
    public func outputShape(for input: Shape) throws(NetworkError) -> Shape {
        var shapes: [Int: Shape] = [:]
        var shape = input
        for (step, op) in operations.enumerated() {
            shape = try Self.step(op, step: step, input: shape, saved: &shapes)
        }
        return shape
    }

    private static func step(_ op: Operation, step: Int, input: Shape, saved: inout [Int: Shape]) throws(NetworkError) -> Shape {
        switch op {
        case .convolution(let conv):
            guard let out = conv.outputShape(input) else { throw .shapeMismatch(step: step, operation: op.name, input: input) }
            return out
        case .affine(let scale, _):
            guard scale.count == input.channels else { throw .shapeMismatch(step: step, operation: op.name, input: input) }
            return input
        case .relu:
            return input
        case .pool(let pool):
            guard let out = pool.outputShape(input) else { throw .shapeMismatch(step: step, operation: op.name, input: input) }
            return out
        case .tag(let id):
            saved[id] = input
            return input
        case .skip(let id):
            guard let s = saved[id] else { throw .undefinedTag(step: step, id: id) }
            return s
        case .addSaved(let id, _):
            guard let s = saved[id] else { throw .undefinedTag(step: step, id: id) }
            guard s.n == input.n else { throw .shapeMismatch(step: step, operation: op.name, input: input) }
            return ElementwiseKernels.sumShape(input, s)
        case .fullyConnected(let fc):
            guard input.height == 1, input.width == 1, input.channels == fc.inputs else {
                throw .shapeMismatch(step: step, operation: op.name, input: input)
            }
            return Shape(n: input.n, height: 1, width: 1, channels: fc.outputs)
        }
    }

    /// Runs the network on a batch.
    /// - Parameters:
    ///   - input: `shape.count` values, NHWC.
    ///   - threads: cores to split the batch over (default: all online cores, at most one per image).
    /// - Returns: the output batch, NHWC, and its shape.
    public func forward(_ input: [Float], shape: Shape, mode: KernelMode = .fast, threads: Int? = nil,
                        imagesPerStep: Int = 8) throws(NetworkError) -> (values: [Float], shape: Shape) {
        guard input.count == shape.count else { throw .inputCount(expected: shape.count, got: input.count) }
        let outShape = try outputShape(for: shape)
        let cores = max(1, threads ?? BLASThreads.cores)
        // Many images: one share of the batch per core. Fewer images than cores: one pass whose
        // large convolutions split their output pixels across the cores.
        let workers = shape.n >= cores ? cores : 1
        let intraOp = shape.n >= cores ? 1 : cores
        var output = [Float](repeating: 0, count: outShape.count)
        let perImageIn = shape.countPerImage, perImageOut = outShape.countPerImage
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                nonisolated(unsafe) let src = source, dst = destination
                let run: @Sendable (Int) -> Void = { worker in
                    let first = shape.n * worker / workers, end = shape.n * (worker + 1) / workers
                    self.pool.withWorkspace { workspace in
                        var n0 = first
                        while n0 < end {
                            let count = min(max(1, imagesPerStep), end - n0)
                            var part = shape
                            part.n = count
                            self.run(src.baseAddress! + n0 * perImageIn, shape: part, workspace: workspace, mode: mode,
                                     intraOpWorkers: intraOp, into: dst.baseAddress! + n0 * perImageOut)
                            n0 += count
                        }
                    }
                }
                if workers == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { run($0) } }
            }
        }
        return (output, outShape)
    }

    /// One phase of a profile: its time, and for convolution layers their speed.
    public struct ProfilePhase: Sendable {
        public let phase: String
        public let ms: Double
        /// GFLOP/s, for phases whose work is counted (the direct convolution layers).
        public let gflops: Double?
    }

    /// Milliseconds per phase for one single-threaded pass over the batch (a profile of the kernels).
    /// - Parameter threads: threads each layer is split over (1: the single-threaded profile).
    public func profile(_ input: [Float], shape: Shape, imagesPerStep: Int = 8, mode: KernelMode = .fast,
                        threads: Int = 1) throws(NetworkError) -> [ProfilePhase] {
        guard input.count == shape.count else { throw .inputCount(expected: shape.count, got: input.count) }
        let outShape = try outputShape(for: shape)
        let workspace = Workspace()
        var output = [Float](repeating: 0, count: outShape.count)
        for pass in 0..<2 {  // the first pass sizes the buffers
            workspace.profile = pass == 0 ? nil : [:]
            workspace.flops = [:]
            input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    var n0 = 0
                    while n0 < shape.n {
                        var part = shape
                        part.n = min(imagesPerStep, shape.n - n0)
                        run(src.baseAddress! + n0 * shape.countPerImage, shape: part, workspace: workspace, mode: mode,
                            intraOpWorkers: max(1, threads), into: dst.baseAddress! + n0 * outShape.countPerImage)
                        n0 += part.n
                    }
                }
            }
        }
        return (workspace.profile ?? [:]).map { phase, ns in
            ProfilePhase(phase: phase, ms: Double(ns) / 1e6, gflops: workspace.flops[phase].map { $0 / Double(max(ns, 1)) })
        }.sorted { $0.ms > $1.ms }
    }

    /// One pass over `shape.n` images on the calling thread. Shapes were checked by the caller.
    private func run(_ input: UnsafePointer<Float>, shape: Shape, workspace: Workspace, mode: KernelMode,
                     intraOpWorkers: Int, into output: UnsafeMutablePointer<Float>) {
        workspace.resetReferences()
        // The caller's input is read in place by a first convolution; any other first step gets a copy.
        var external: UnsafePointer<Float>? = input
        var current = -1
        var currentShape = shape
        var saved: [Int: (slot: Int, shape: Shape)] = [:]
        var savedShapes: [Int: Shape] = [:]

        var fusedAdd = false
        for (index, op) in operations.enumerated() {
            if fusedAdd {  // the residual add the previous convolution's store already did
                fusedAdd = false
                continue
            }
            if let e = external, !op.readsInputOnly {
                current = workspace.acquire(shape.count)
                workspace.pointer(current).update(from: e, count: shape.count)
                external = nil
            }
            // Shapes were validated up front, so this cannot throw here.
            guard let outShape = try? Self.step(op, step: index, input: currentShape, saved: &savedShapes) else {
                preconditionFailure("shape checked before the pass")
            }
            let t0 = workspace.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer {
                if workspace.profile != nil {
                    let kind = op.name.split(separator: " ").first.map(String.init) ?? op.name
                    workspace.profile?["op \(kind)", default: 0] += DispatchTime.now().uptimeNanoseconds - t0
                }
            }
            switch op {
            case .convolution(let layer):
                // The reference and BLAS modes need the K×F weights a packed layer no longer keeps.
                let conv = mode != .fast && !layer.hasWeights ? (direct[index]?.unpacked() ?? layer) : layer
                let out = workspace.acquire(outShape.count)
                var x = external ?? UnsafePointer(workspace.pointer(current))
                let y = workspace.pointer(out)
                let consumed = external != nil
                external = nil
                // bf16: the layer reads its input rounded (a copy: a saved tensor stays Float32).
                var rounded: Int?
                if precision == .bf16 && mode == .fast && direct[index] != nil {
                    let r = workspace.acquire(currentShape.count)
                    argus_round_bf16(x, workspace.pointer(r), currentShape.count)
                    x = UnsafePointer(workspace.pointer(r))
                    rounded = r
                }
                defer { if let rounded { workspace.release(rounded) } }
                if mode == .fast, let packed = direct[index] {
                    // A residual add of a same-shaped saved tensor right after is done in the store.
                    var residual: UnsafePointer<Float>?, relu = false
                    if index + 1 < operations.count, case .addSaved(let id, let addReLU) = operations[index + 1],
                       !conv.fusedReLU, !packed.singleFilter, let s = saved[id], s.shape == outShape, s.slot != current {
                        residual = UnsafePointer(workspace.pointer(s.slot))
                        relu = addReLU
                        fusedAdd = true
                    }
                    let t0 = workspace.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                    packed.run(input: x, inShape: currentShape, output: y, outShape: outShape, residual: residual, relu: relu,
                               workers: intraOpWorkers, workspace: workspace)
                    if !consumed { workspace.release(current) }
                    if workspace.profile != nil {
                        workspace.record(conv, outShape, since: t0,
                                         how: "\(fusedAdd ? " +add" : "")\(packed.usesWinograd(outShape) ? " winograd" : "")")
                    }
                    current = out
                    if fusedAdd { currentShape = outShape; continue }
                    break
                }
                let t0 = workspace.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                defer {
                    if workspace.profile != nil {
                        workspace.record(conv, outShape, since: t0, how: mode == .reference ? " (reference)" : " (BLAS)")
                    }
                }
                switch mode {
                case .fast, .blas:
                    let scratch = workspace.scratch(atLeast: ConvolutionKernels.scratchCount(conv, outShape: outShape,
                                                                                           workers: intraOpWorkers))
                    ConvolutionKernels.fast(conv, input: x, inShape: currentShape, output: y, outShape: outShape, scratch: scratch,
                                            workers: intraOpWorkers, workspace: intraOpWorkers == 1 ? workspace : nil)
                case .reference:
                    ConvolutionKernels.reference(conv, input: x, inShape: currentShape, output: y, outShape: outShape)
                }
                if !consumed { workspace.release(current) }
                current = out
            case .affine(let scale, let shift):
                current = writable(current, count: currentShape.count, workspace: workspace)
                ElementwiseKernels.affine(workspace.pointer(current), pixels: currentShape.n * currentShape.pixelsPerImage,
                                          scale: scale, shift: shift)
            case .relu:
                current = writable(current, count: currentShape.count, workspace: workspace)
                ElementwiseKernels.relu(workspace.pointer(current), count: currentShape.count)
            case .pool(let pool):
                let out = workspace.acquire(outShape.count)
                PoolingKernels.run(pool, input: workspace.pointer(current), inShape: currentShape,
                                   output: workspace.pointer(out), outShape: outShape)
                workspace.release(current)
                current = out
            case .tag(let id):
                if let old = saved[id] { workspace.release(old.slot) }
                workspace.retain(current)
                saved[id] = (current, currentShape)
            case .skip(let id):
                guard let s = saved[id] else { preconditionFailure("tag checked before the pass") }
                workspace.release(current)
                workspace.retain(s.slot)
                current = s.slot
            case .addSaved(let id, let relu):
                guard let s = saved[id] else { preconditionFailure("tag checked before the pass") }
                let out = workspace.acquire(outShape.count)
                ElementwiseKernels.addZeroExtended(workspace.pointer(current), currentShape, workspace.pointer(s.slot), s.shape,
                                                   into: workspace.pointer(out), outShape, relu: relu)
                workspace.release(current)
                current = out
            case .fullyConnected(let fc):
                let out = workspace.acquire(outShape.count)
                ElementwiseKernels.fullyConnected(fc, input: workspace.pointer(current), n: currentShape.n,
                                                  output: workspace.pointer(out), mode: mode)
                workspace.release(current)
                current = out
            }
            currentShape = outShape
        }
        output.update(from: external ?? UnsafePointer(workspace.pointer(current)), count: currentShape.count)
    }

    /// The current slot if nobody else holds it, else a private copy (in-place ops must not
    /// change a tensor a tag saved).
    private func writable(_ slot: Int, count: Int, workspace: Workspace) -> Int {
        guard workspace.isShared(slot) else { return slot }
        let copy = workspace.acquire(count)
        workspace.pointer(copy).update(from: workspace.pointer(slot), count: count)
        workspace.release(slot)
        return copy
    }
}
