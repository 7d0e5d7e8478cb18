internal import CArgusKernels
private import Glibc

/// A convolution's weights packed for one instruction set's microkernel, and the calls that run
/// it (Sources/CArgusKernels/argus_conv.h states the layouts). Packed once, when a `Network` is
/// built; immutable afterwards, so one instance serves concurrent passes.
final class DirectConvolution: @unchecked Sendable {
    // @unchecked: `packed` is written in init only and read-only afterwards.
    let isa: InstructionSet
    let conv: Convolution
    /// A single-filter, stride-1 layer: vectorised over output pixels (`argus_conv_single_run`).
    let singleFilter: Bool
    private let packed: UnsafeMutablePointer<Float>
    /// The same weights transformed for Winograd F(2×2, 3×3), where the layer allows it; used when
    /// the output is at least `winogradMinimumSide` pixels on each side (smaller outputs would
    /// compute mostly padding in 2×2 tiles).
    private let winogradPacked: UnsafeMutablePointer<Float>?
    static let winogradMinimumSide = 3

    /// `ARGUS_WINOGRAD=0` turns Winograd off (for measuring it against the direct kernel).
    static let winogradAllowed: Bool = getenv("ARGUS_WINOGRAD").map { String(cString: $0) != "0" } ?? true

    /// nil when the direct kernel does not take this layer (it then runs as im2col + sgemm).
    /// - Parameter winograd: whether 3×3/5×5 stride-1 layers may also be packed for Winograd.
    init?(_ conv: Convolution, isa: InstructionSet, winograd allowWinograd: Bool = true) {
        guard isa.isSupported, conv.hasWeights, var shape = Self.probe(conv) else { return nil }
        self.isa = isa
        self.conv = conv.strippingWeights()
        if conv.filters == 1 {
            // A single filter would fill 1 of a tile's 16+ lanes: vectorise over pixels instead.
            guard argus_conv_single_supported(&shape) != 0 else { return nil }
            singleFilter = true
            winogradPacked = nil
            packed = Workspace.allocate(conv.k)
            conv.weights.withUnsafeBufferPointer { w in argus_conv_single_pack(&shape, w.baseAddress, packed) }
            return
        }
        guard argus_conv_supported(&shape) != 0 else { return nil }
        singleFilter = false
        packed = Self.pack(conv, shape: shape, isa: isa)
        var winograd = shape
        winograd.winograd = 1
        winogradPacked = allowWinograd && Self.winogradAllowed && argus_conv_winograd(&winograd, isa.c) != 0
            ? Self.pack(conv, shape: winograd, isa: isa) : nil
    }

    private static func pack(_ conv: Convolution, shape: argus_conv_shape, isa: InstructionSet) -> UnsafeMutablePointer<Float> {
        var shape = shape
        let packed = Workspace.allocate(argus_conv_packed_count(&shape, isa.c))
        conv.weights.withUnsafeBufferPointer { w in
            conv.bias.withUnsafeBufferPointer { b in argus_conv_pack(&shape, isa.c, w.baseAddress, b.baseAddress, packed) }
        }
        return packed
    }

    /// The layer with its K×F weights, rebuilt from the packing (for the reference and BLAS modes,
    /// which networks run only in tests and comparisons).
    func unpacked() -> Convolution {
        guard var shape = Self.probe(conv) else { return conv }  // init probed this layer already
        var kf = [Float](repeating: 0, count: conv.k * conv.filters), bias = conv.bias
        kf.withUnsafeMutableBufferPointer { w in
            bias.withUnsafeMutableBufferPointer { b in
                if singleFilter {
                    argus_conv_single_unpack(&shape, packed, w.baseAddress)
                } else {
                    argus_conv_unpack(&shape, isa.c, packed, w.baseAddress, b.baseAddress)
                }
            }
        }
        return conv.with(weights: kf, bias: bias)
    }

    /// Whether the Winograd kernel takes this layer's shape (channels, filters, kernel, stride, padding).
    static func winogradTakes(_ conv: Convolution, isa: InstructionSet) -> Bool {
        guard var shape = Self.probe(conv) else { return false }
        shape.winograd = 1
        return argus_conv_winograd(&shape, isa.c) != 0
    }

    /// Whether a call with this output shape runs as Winograd.
    func usesWinograd(_ outShape: Shape) -> Bool {
        winogradPacked != nil && min(outShape.height, outShape.width) >= Self.winogradMinimumSide
    }

    deinit {
        free(packed)
        free(winogradPacked)
    }

    /// The layer's shape on a (kh + 2)×(kw + 2) input: what packing and kernel choice depend on
    /// (channels, filters, kernel, stride, padding), never the image size.
    private static func probe(_ conv: Convolution) -> argus_conv_shape? {
        let input = Shape(n: 1, height: conv.kernelHeight + 2, width: conv.kernelWidth + 2, channels: conv.inChannels)
        guard let output = conv.outputShape(input) else { return nil }
        return shape(conv, input: input, output: output, relu: false)
    }

    private static func shape(_ conv: Convolution, input: Shape, output: Shape, relu: Bool) -> argus_conv_shape {
        argus_conv_shape(in_h: Int32(input.height), in_w: Int32(input.width), in_c: Int32(input.channels),
                         out_h: Int32(output.height), out_w: Int32(output.width), filters: Int32(output.channels),
                         kh: Int32(conv.kernelHeight), kw: Int32(conv.kernelWidth), stride_y: Int32(conv.strideY),
                         stride_x: Int32(conv.strideX), pad_y: Int32(conv.padY), pad_x: Int32(conv.padX), relu: relu ? 1 : 0,
                         winograd: 0)
    }

    /// Runs the layer on `inShape.n` images, splitting its work items over `workers` threads.
    /// `residual` (output-shaped) is added before the ReLU; `relu` applies one after the sum.
    func run(input: UnsafePointer<Float>, inShape: Shape, output: UnsafeMutablePointer<Float>, outShape: Shape,
             residual: UnsafePointer<Float>?, relu: Bool, workers: Int, workspace: Workspace) {
        var shape = Self.shape(conv, input: inShape, output: outShape, relu: relu || conv.fusedReLU)
        let images = Int64(inShape.n), threads = Int64(max(1, workers))
        if singleFilter {
            precondition(residual == nil, "no residual add on a single-filter layer")
            let planes = workspace.scratch(atLeast: argus_conv_single_planes_count(&shape, images))
            // The pool is touched (and its threads started) only by passes that split layers.
            let pool = threads > 1 ? IntraOpPool.shared : nil
            let parts = Int64(min(Int(threads), pool?.threads ?? 1))
            argus_conv_single_run(parts > 1 ? pool?.pointer : nil, &shape, isa.c, packed, conv.bias[0], input, images,
                                  output, planes, parts)
            return
        }
        var weights = UnsafePointer(packed)
        if usesWinograd(outShape), let winogradPacked {
            shape.winograd = 1
            weights = UnsafePointer(winogradPacked)
        }
        // The pool is touched (and its threads started) only by passes that split layers.
        let pool = threads > 1 ? IntraOpPool.shared : nil
        let workers = min(threads, Int64(pool?.threads ?? 1))
        let chunk = argus_conv_chunk(&shape, isa.c, images, workers)
        let items = argus_conv_items(&shape, isa.c, images, chunk)
        let perThread = (argus_conv_scratch_bytes(&shape, isa.c, chunk) + 63) / 64 * 16  // floats, 64-byte multiples
        let parts = Int(min(workers, items))
        let scratch = workspace.scratch(atLeast: max(1, parts) * perThread)
        if parts <= 1 {
            argus_conv_run(&shape, isa.c, weights, input, images, output, residual, chunk, 0, items, scratch)
        } else {
            argus_conv_run_pool(pool?.pointer, &shape, isa.c, weights, input, images, output, residual, chunk, Int64(parts), scratch,
                                perThread * MemoryLayout<Float>.stride)
        }
    }
}
