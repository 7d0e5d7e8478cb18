import Testing
@testable import ArgusNN
import CArgusKernels

/// The direct microkernels of every instruction set this CPU runs, against the reference loop, on
/// every convolution shape the two networks use (channels, filters, kernel, stride and padding as in
/// the models; spatial sizes chosen so that tiles and chunks end in partial tiles).
@Suite("Direct convolution kernels vs the reference")
struct DirectConvolutionTests {
    struct Layer: CustomTestStringConvertible, Sendable {
        var c, f, k, stride, pad, h, w, n: Int
        var net: String
        var testDescription: String { "\(net) C\(c)→\(f) \(k)×\(k)/\(stride) p\(pad) on \(n)×\(h)×\(w)" }
    }

    static let layers: [Layer] = [
        // ResNet (dlib_face_recognition_resnet_model_v1): 150×150 chips.
        Layer(c: 3, f: 32, k: 7, stride: 2, pad: 0, h: 150, w: 150, n: 1, net: "resnet"),
        Layer(c: 32, f: 32, k: 3, stride: 1, pad: 1, h: 35, w: 35, n: 2, net: "resnet"),
        Layer(c: 32, f: 64, k: 3, stride: 2, pad: 0, h: 35, w: 35, n: 2, net: "resnet"),
        Layer(c: 64, f: 64, k: 3, stride: 1, pad: 1, h: 17, w: 17, n: 2, net: "resnet"),
        Layer(c: 64, f: 128, k: 3, stride: 2, pad: 0, h: 17, w: 17, n: 2, net: "resnet"),
        Layer(c: 128, f: 128, k: 3, stride: 1, pad: 1, h: 8, w: 8, n: 3, net: "resnet"),
        Layer(c: 128, f: 256, k: 3, stride: 2, pad: 0, h: 8, w: 8, n: 3, net: "resnet"),
        Layer(c: 256, f: 256, k: 3, stride: 1, pad: 1, h: 3, w: 3, n: 3, net: "resnet"),
        Layer(c: 256, f: 256, k: 3, stride: 2, pad: 0, h: 3, w: 3, n: 3, net: "resnet"),
        Layer(c: 256, f: 256, k: 3, stride: 1, pad: 1, h: 1, w: 1, n: 5, net: "resnet"),
        // MMOD detector: any image size; the front downsamples by 2 three times.
        Layer(c: 3, f: 16, k: 5, stride: 2, pad: 0, h: 61, w: 47, n: 1, net: "mmod"),
        Layer(c: 16, f: 32, k: 5, stride: 2, pad: 0, h: 29, w: 22, n: 1, net: "mmod"),
        Layer(c: 32, f: 32, k: 5, stride: 2, pad: 0, h: 25, w: 19, n: 1, net: "mmod"),
        Layer(c: 32, f: 45, k: 5, stride: 1, pad: 2, h: 13, w: 11, n: 1, net: "mmod"),
        Layer(c: 45, f: 45, k: 5, stride: 1, pad: 2, h: 13, w: 11, n: 1, net: "mmod"),
        Layer(c: 45, f: 1, k: 9, stride: 1, pad: 4, h: 13, w: 37, n: 2, net: "mmod"),  // single filter: over pixels
        // A layer with few channels and horizontal padding takes the gathered-row form.
        Layer(c: 3, f: 20, k: 3, stride: 1, pad: 1, h: 9, w: 10, n: 2, net: "other"),
    ]

    static var instructionSets: [InstructionSet] { InstructionSet.allCases.filter(\.isSupported) }

    @Test("every layer shape, every instruction set this CPU runs", arguments: layers)
    func layer(_ t: Layer) throws {
        var rng = TestRandom(state: UInt64(t.c * 7919 + t.f * 31 + t.k))
        var conv = Convolution(filters: t.f, inChannels: t.c, kernelHeight: t.k, kernelWidth: t.k, strideY: t.stride,
                               strideX: t.stride, padY: t.pad, padX: t.pad, oihw: rng.floats(t.f * t.c * t.k * t.k),
                               bias: rng.floats(t.f))
        if t.f > 1 { conv.fuseReLU() }  // the score layer has none
        let shape = Shape(n: t.n, height: t.h, width: t.w, channels: t.c)
        let input = rng.floats(shape.count)
        let reference = try Network(operations: [.convolution(conv)], fuse: false).forward(input, shape: shape, mode: .reference, threads: 1)
        #expect(reference.values.contains { $0 > 0 } && reference.values.contains { $0 <= 0 })
        #expect(!Self.instructionSets.isEmpty)
        for isa in Self.instructionSets {
            let net = Network(operations: [.convolution(conv)], fuse: false, kernels: isa)
            for threads in [1, 2] {
                let fast = try net.forward(input, shape: shape, threads: threads)
                #expect(fast.shape == reference.shape)
                // Float32 sums of K terms in another order differ by about √K rounding steps per output:
                // a normalised squared error near K · 3.6e-15 (ε² for ε = 6e-8).
                #expect(nmse(fast.values, reference.values) < Double(conv.k) * 1e-14, "\(isa.rawValue), \(threads) threads")
                #expect(net.direct(at: 0), "the direct kernel took the layer")
                if case .convolution(let kept) = net.operations[0] { #expect(!kept.hasWeights, "one copy of the weights: the packing") }
                // 3×3 stride-1 layers with whole vectors of channels and outputs ≥ 3 px a side run as Winograd.
                let winograd = (t.k == 3 && t.pad == 1 || t.k == 5 && t.pad == 2) && t.stride == 1 && t.c % 16 == 0 && t.c <= 128
                    && min(t.h, t.w) >= 3
                #expect(net.winograd(at: 0, output: fast.shape) == winograd, "Winograd \(winograd ? "used" : "not used")")
            }
        }
    }

    @Test("a residual add and ReLU folded into the convolution's store")
    func residualInStore() throws {
        var rng = TestRandom(state: 7)
        func conv(_ c: Int, _ f: Int) -> Convolution {
            Convolution(filters: f, inChannels: c, kernelHeight: 3, kernelWidth: 3, strideY: 1, strideX: 1, padY: 1, padX: 1,
                        oihw: rng.floats(f * c * 9), bias: rng.floats(f))
        }
        // dlib's residual block: tag1, con, bn, relu, con, bn, add_prev1, relu.
        let ops: [Operation] = [
            .convolution(conv(8, 24)), .relu, .tag(1),
            .convolution(conv(24, 24)), .affine(scale: rng.floats(24), shift: rng.floats(24)), .relu,
            .convolution(conv(24, 24)), .affine(scale: rng.floats(24), shift: rng.floats(24)), .addSaved(1, relu: true),
        ]
        let shape = Shape(n: 3, height: 7, width: 9, channels: 8)
        let input = rng.floats(shape.count)
        let reference = try Network(operations: ops, fuse: false).forward(input, shape: shape, mode: .reference, threads: 1).values
        #expect(reference.contains { $0 > 0 } && reference.contains { $0 == 0 })
        for isa in Self.instructionSets {
            let net = Network(operations: ops, kernels: isa)
            for threads in [1, 2] {
                let fast = try net.forward(input, shape: shape, threads: threads, imagesPerStep: 2).values
                #expect(nmse(fast, reference) < 1e-12, "\(isa.rawValue), \(threads) threads")
            }
        }
    }

    @Test("the detector's tail: 45 channels padded to 48 so that its 5×5 layers run as Winograd, same values")
    func paddedChain() throws {
        var rng = TestRandom(state: 11)
        func conv(_ c: Int, _ f: Int, _ k: Int) -> Convolution {
            Convolution(filters: f, inChannels: c, kernelHeight: k, kernelWidth: k, strideY: 1, strideX: 1, padY: k / 2, padX: k / 2,
                        oihw: rng.floats(f * c * k * k).map { $0 * 0.2 }, bias: rng.floats(f))
        }
        let ops: [Operation] = [
            .convolution(conv(32, 45, 5)), .relu, .convolution(conv(45, 45, 5)), .relu, .convolution(conv(45, 45, 5)), .relu,
            .convolution(conv(45, 1, 9)),
        ]
        let shape = Shape(n: 1, height: 21, width: 30, channels: 32)
        let input = rng.floats(shape.count)
        let reference = try Network(operations: ops, fuse: false).forward(input, shape: shape, mode: .reference, threads: 1)
        #expect(reference.shape == Shape(n: 1, height: 21, width: 30, channels: 1))
        for isa in Self.instructionSets {
            let net = Network(operations: ops, kernels: isa)
            let filters = net.operations.compactMap { op -> Int? in if case .convolution(let c) = op { return c.filters } else { return nil } }
            #expect(filters == [48, 48, 45, 1])
            #expect(net.winograd(at: 1, output: Shape(n: 1, height: 21, width: 30, channels: 48)))
            for threads in [1, 2] {
                let fast = try net.forward(input, shape: shape, threads: threads)
                #expect(fast.shape == reference.shape)
                #expect(nmse(fast.values, reference.values) < Double(45 * 81) * 1e-14, "\(isa.rawValue), \(threads) threads")
            }
        }
    }

    @Test("ARGUS_KERNELS names are the instruction sets; the best is supported")
    func selection() {
        #expect(InstructionSet.best.isSupported)
        #expect(InstructionSet.portable.isSupported)
        #expect(InstructionSet(rawValue: "avx2") == .avx2 && InstructionSet(rawValue: "avx512") == .avx512)
        if !InstructionSet.avx512.isSupported {
            // Logged so a run on an AVX-512 machine and one without can be told apart.
            print("DirectConvolutionTests: this CPU has no AVX-512; its 16-lane tiling ran as wide16-avx2")
        }
    }
}

@Suite("bfloat16 rounding")
struct BFloat16Tests {
    func rounded(_ values: [Float]) -> [Float] {
        var out = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBufferPointer { argus_round_bf16(v.baseAddress, $0.baseAddress, v.count) } }
        return out
    }

    @Test("nearest, ties to even; exact values, infinities and NaN kept")
    func rounding() {
        let ulp = Float(1) / 128  // bf16's spacing at 1
        let r = rounded([1, 1 + ulp / 2, 1 + ulp + ulp / 2, 1 + ulp / 4, -3.5, .infinity, -.infinity, 0, 1 + ulp / 2 + 1e-6])
        #expect(r[0] == 1 && r[1] == 1 && r[2] == 1 + 2 * ulp && r[3] == 1 && r[4] == -3.5)
        #expect(r[5] == .infinity && r[6] == -.infinity && r[7] == 0 && r[8] == 1 + ulp)
        #expect(rounded([.nan])[0].isNaN)
        #expect(rounded([Float.greatestFiniteMagnitude])[0] == .infinity)  // rounds up past bf16's largest
    }

    @Test("a bf16 network: weights and inputs rounded, sums in Float32; close to fp32, not equal")
    func network() throws {
        var rng = TestRandom(state: 5)
        let conv = Convolution(filters: 32, inChannels: 16, kernelHeight: 3, kernelWidth: 3, strideY: 1, strideX: 1, padY: 1, padX: 1,
                               oihw: rng.floats(32 * 16 * 9), bias: rng.floats(32))
        let shape = Shape(n: 2, height: 9, width: 8, channels: 16)
        let input = rng.floats(shape.count)
        let fp32 = try Network(operations: [.convolution(conv)], precision: .fp32).forward(input, shape: shape).values
        let bf16Net = Network(operations: [.convolution(conv)], precision: .bf16)
        #expect(bf16Net.precision == .bf16 && !bf16Net.winograd(at: 0, output: Shape(n: 2, height: 9, width: 8, channels: 32)))
        let bf16 = try bf16Net.forward(input, shape: shape).values
        let error = nmse(bf16, fp32)
        #expect(error > 1e-9 && error < 1e-4, "nmse \(error)")
    }
}
