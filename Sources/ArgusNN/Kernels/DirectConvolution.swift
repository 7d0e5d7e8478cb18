internal import CArgusKernels
import Dispatch
private import Glibc

/// A convolution's weights packed for one instruction set's microkernel, and the calls that run
/// it (Sources/CArgusKernels/argus_conv.h states the layouts). Packed once, when a `Network` is
/// built; immutable afterwards, so one instance serves concurrent passes.
final class DirectConvolution: @unchecked Sendable {
    // @unchecked: `packed` is written in init only and read-only afterwards.
    let isa: InstructionSet
    let conv: Convolution
    private let packed: UnsafeMutablePointer<Float>

    /// nil when the direct kernel does not take this layer (it then runs as im2col + sgemm).
    init?(_ conv: Convolution, isa: InstructionSet) {
        var shape = Self.shape(conv, input: Shape(n: 1, height: conv.kernelHeight, width: conv.kernelWidth, channels: conv.inChannels),
                               output: Shape(n: 1, height: 1, width: 1, channels: conv.filters), relu: false)
        // A single filter would fill 1 of a tile's 16+ lanes: kn2row is cheaper there.
        guard conv.filters > 1, isa.isSupported, argus_conv_supported(&shape) != 0 else { return nil }
        self.isa = isa
        self.conv = conv
        let count = argus_conv_packed_count(&shape, isa.c)
        packed = Workspace.allocate(count)
        conv.weights.withUnsafeBufferPointer { w in
            conv.bias.withUnsafeBufferPointer { b in argus_conv_pack(&shape, isa.c, w.baseAddress, b.baseAddress, packed) }
        }
    }

    deinit { free(packed) }

    private static func shape(_ conv: Convolution, input: Shape, output: Shape, relu: Bool) -> argus_conv_shape {
        argus_conv_shape(in_h: Int32(input.height), in_w: Int32(input.width), in_c: Int32(input.channels),
                         out_h: Int32(output.height), out_w: Int32(output.width), filters: Int32(output.channels),
                         kh: Int32(conv.kernelHeight), kw: Int32(conv.kernelWidth), stride_y: Int32(conv.strideY),
                         stride_x: Int32(conv.strideX), pad_y: Int32(conv.padY), pad_x: Int32(conv.padX), relu: relu ? 1 : 0)
    }

    /// Runs the layer on `inShape.n` images, splitting its work items over `workers` threads.
    /// `residual` (output-shaped) is added before the ReLU; `relu` applies one after the sum.
    func run(input: UnsafePointer<Float>, inShape: Shape, output: UnsafeMutablePointer<Float>, outShape: Shape,
             residual: UnsafePointer<Float>?, relu: Bool, workers: Int, workspace: Workspace) {
        var shape = Self.shape(conv, input: inShape, output: outShape, relu: relu || conv.fusedReLU)
        let images = Int64(inShape.n), threads = Int64(max(1, workers))
        let chunk = argus_conv_chunk(&shape, isa.c, images, threads)
        let items = argus_conv_items(&shape, isa.c, images, chunk)
        let perThread = (argus_conv_scratch_bytes(&shape, isa.c, chunk) + 63) / 64 * 16  // floats, 64-byte multiples
        let parts = Int(min(threads, items))
        let scratch = workspace.scratch(atLeast: max(1, parts) * perThread)
        if parts <= 1 {
            argus_conv_run(&shape, isa.c, packed, input, images, output, residual, chunk, 0, items, scratch)
            return
        }
        nonisolated(unsafe) let x = input, y = output, r = residual, s = scratch, w = packed
        let code = isa.c, frozen = shape
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            var shape = frozen
            let begin = items * Int64(part) / Int64(parts), end = items * Int64(part + 1) / Int64(parts)
            argus_conv_run(&shape, code, w, x, images, y, r, chunk, begin, end, s + part * perThread)
        }
    }
}
