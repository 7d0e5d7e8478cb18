import Testing
@testable import ArgusNN

/// Deterministic pseudo-random floats for kernel tests.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &self) } }
}

/// Normalised mean squared error, as ggml's test-backend-ops measures kernels.
func nmse(_ a: [Float], _ b: [Float]) -> Double {
    var err = 0.0, ref = 0.0
    for i in a.indices {
        err += Double(a[i] - b[i]) * Double(a[i] - b[i])
        ref += Double(b[i]) * Double(b[i])
    }
    return ref > 0 ? err / ref : err
}

@Suite("Kernels: fast equals reference")
struct KernelTests {
    struct ConvCase: CustomTestStringConvertible, Sendable {
        var c, f, k, stride, pad, h, w, n: Int
        var testDescription: String { "C\(c)→\(f) \(k)×\(k)/\(stride) p\(pad) on \(n)×\(h)×\(w)" }
    }

    @Test("convolution (im2col + sgemm) vs the direct loop", arguments: [
        ConvCase(c: 3, f: 8, k: 7, stride: 2, pad: 0, h: 23, w: 19, n: 2),
        ConvCase(c: 5, f: 4, k: 3, stride: 1, pad: 1, h: 9, w: 11, n: 3),
        ConvCase(c: 4, f: 6, k: 3, stride: 2, pad: 0, h: 8, w: 8, n: 1),
        ConvCase(c: 2, f: 3, k: 5, stride: 1, pad: 2, h: 6, w: 7, n: 2),
        ConvCase(c: 7, f: 1, k: 9, stride: 1, pad: 4, h: 10, w: 12, n: 1),
        ConvCase(c: 64, f: 64, k: 3, stride: 1, pad: 1, h: 17, w: 17, n: 2),  // more rows than one im2col chunk
    ])
    func convolution(_ t: ConvCase) throws {
        var rng = TestRandom(state: UInt64(t.c * 1000 + t.f))
        var conv = Convolution(filters: t.f, inChannels: t.c, kernelHeight: t.k, kernelWidth: t.k, strideY: t.stride,
                               strideX: t.stride, padY: t.pad, padX: t.pad, oihw: rng.floats(t.f * t.c * t.k * t.k),
                               bias: rng.floats(t.f))
        for relu in [false, true] {
            if relu { conv.fuseReLU() }
            let inShape = Shape(n: t.n, height: t.h, width: t.w, channels: t.c)
            let outShape = try #require(conv.outputShape(inShape))
            let input = rng.floats(inShape.count)
            var fast = [Float](repeating: .nan, count: outShape.count), slow = fast
            var scratch = [Float](repeating: .nan, count: ConvolutionKernels.scratchCount(conv, outShape: outShape))
            input.withUnsafeBufferPointer { x in
                fast.withUnsafeMutableBufferPointer { y in
                    scratch.withUnsafeMutableBufferPointer { s in
                        ConvolutionKernels.fast(conv, input: x.baseAddress!, inShape: inShape, output: y.baseAddress!,
                                                outShape: outShape, scratch: s.baseAddress!)
                    }
                }
                slow.withUnsafeMutableBufferPointer { y in
                    ConvolutionKernels.reference(conv, input: x.baseAddress!, inShape: inShape, output: y.baseAddress!, outShape: outShape)
                }
            }
            #expect(nmse(fast, slow) < 1e-10, "relu \(relu)")
            if relu { #expect(fast.allSatisfy { $0 >= 0 }) }
        }
    }

    @Test("convolution output sizes follow 1 + (in + 2p − k) / s")
    func convShapes() {
        let conv = Convolution(filters: 32, inChannels: 3, kernelHeight: 7, kernelWidth: 7, strideY: 2, strideX: 2,
                               padY: 0, padX: 0, oihw: [Float](repeating: 0, count: 32 * 3 * 49), bias: [Float](repeating: 0, count: 32))
        #expect(conv.outputShape(Shape(n: 1, height: 150, width: 150, channels: 3)) == Shape(n: 1, height: 72, width: 72, channels: 32))
        #expect(conv.outputShape(Shape(n: 1, height: 6, width: 150, channels: 3)) == nil)
        #expect(conv.outputShape(Shape(n: 1, height: 150, width: 150, channels: 4)) == nil)
    }

    @Test("pooling clips windows to the input; global pooling averages everything")
    func pooling() throws {
        // One 3×3 single-channel image 1…9.
        let input: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let inShape = Shape(n: 1, height: 3, width: 3, channels: 1)
        func run(_ p: Pooling) throws -> [Float] {
            let outShape = try #require(p.outputShape(inShape))
            var out = [Float](repeating: .nan, count: outShape.count)
            input.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { PoolingKernels.run(p, input: x.baseAddress!, inShape: inShape, output: $0.baseAddress!, outShape: outShape) }
            }
            return out
        }
        #expect(try run(Pooling(kind: .max, windowHeight: 2, windowWidth: 2, strideY: 1, strideX: 1)) == [5, 6, 8, 9])
        #expect(try run(Pooling(kind: .average, windowHeight: 2, windowWidth: 2, strideY: 2, strideX: 2)) == [3])
        #expect(try run(Pooling(kind: .average, windowHeight: 0, windowWidth: 0, strideY: 1, strideX: 1)) == [5])
        // Padding 1: the corner window covers only 2×2 real pixels, and padding is not a value.
        #expect(try run(Pooling(kind: .average, windowHeight: 3, windowWidth: 3, strideY: 2, strideX: 2, padY: 1, padX: 1))
                == [3, 4, 6, 7])
        #expect(try run(Pooling(kind: .max, windowHeight: 3, windowWidth: 3, strideY: 2, strideX: 2, padY: 1, padX: 1)) == [5, 6, 8, 9])
    }

    @Test("zero-extended residual add grows channels at the end and space at the bottom right")
    func zeroExtendedAdd() {
        // a: 1×1×2×1 = [1, 2]; b: 1×2×2×2.
        let a: [Float] = [1, 2], aShape = Shape(n: 1, height: 1, width: 2, channels: 1)
        let b: [Float] = [10, 20, 30, 40, 50, 60, 70, 80], bShape = Shape(n: 1, height: 2, width: 2, channels: 2)
        let outShape = ElementwiseKernels.sumShape(aShape, bShape)
        #expect(outShape == bShape)
        var out = [Float](repeating: .nan, count: outShape.count)
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                out.withUnsafeMutableBufferPointer {
                    ElementwiseKernels.addZeroExtended(x.baseAddress!, aShape, y.baseAddress!, bShape, into: $0.baseAddress!, outShape, relu: false)
                }
            }
        }
        #expect(out == [11, 20, 32, 40, 50, 60, 70, 80])
    }

    @Test("fusion keeps the function: a small residual net, fused vs unfused vs reference")
    func fusedNetwork() throws {
        var rng = TestRandom(state: 42)
        func conv(_ c: Int, _ f: Int, stride: Int = 1) -> Convolution {
            Convolution(filters: f, inChannels: c, kernelHeight: 3, kernelWidth: 3, strideY: stride, strideX: stride,
                        padY: stride == 1 ? 1 : 0, padX: stride == 1 ? 1 : 0, oihw: rng.floats(f * c * 9), bias: rng.floats(f))
        }
        let ops: [Operation] = [
            .convolution(conv(3, 4)), .affine(scale: rng.floats(4), shift: rng.floats(4)), .relu,
            .tag(1), .convolution(conv(4, 8, stride: 2)), .affine(scale: rng.floats(8), shift: rng.floats(8)), .tag(2),
            .skip(1), .pool(Pooling(kind: .average, windowHeight: 2, windowWidth: 2, strideY: 2, strideX: 2)), .addSaved(2, relu: false), .relu,
            .pool(Pooling(kind: .average, windowHeight: 0, windowWidth: 0, strideY: 1, strideX: 1)),
            .fullyConnected(FullyConnected(inputs: 8, outputs: 5, weights: rng.floats(40), bias: nil)),
        ]
        let shape = Shape(n: 3, height: 9, width: 9, channels: 3)
        let input = rng.floats(shape.count)
        let fused = Network(operations: ops)
        let plain = Network(operations: ops, fuse: false)
        #expect(fused.operations.count < plain.operations.count)
        let a = try fused.forward(input, shape: shape).values
        let b = try plain.forward(input, shape: shape, mode: .reference, threads: 1).values
        let c = try fused.forward(input, shape: shape, threads: 2, imagesPerStep: 1).values
        #expect(a.count == 15)
        #expect(nmse(a, b) < 1e-10 && nmse(c, b) < 1e-10)
        #expect(throws: NetworkError.inputCount(expected: shape.count, got: 5)) { try fused.forward([1, 2, 3, 4, 5], shape: shape) }
        #expect(throws: NetworkError.self) { try fused.outputShape(for: Shape(n: 1, height: 9, width: 9, channels: 4)) }
    }
}
