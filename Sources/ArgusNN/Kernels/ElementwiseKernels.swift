private import CArgusBLAS

/// Element-wise and small dense kernels over NHWC buffers.
enum ElementwiseKernels {
    static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = max(x[i], 0) }
    }

    static func affine(_ x: UnsafeMutablePointer<Float>, pixels: Int, scale: [Float], shift: [Float]) {
        let c = scale.count
        for p in 0..<pixels {
            let row = x + p * c
            for j in 0..<c { row[j] = row[j] * scale[j] + shift[j] }
        }
    }

    /// The shape of a zero-extended sum: the element-wise maximum (spec §3.6).
    static func sumShape(_ a: Shape, _ b: Shape) -> Shape {
        Shape(n: max(a.n, b.n), height: max(a.height, b.height), width: max(a.width, b.width), channels: max(a.channels, b.channels))
    }

    /// `out = a + b`, each operand zero-extended to `outShape` (extra channels at the end, extra
    /// rows and columns at the bottom and right). `out` may alias neither input.
    static func addZeroExtended(_ a: UnsafePointer<Float>, _ aShape: Shape, _ b: UnsafePointer<Float>, _ bShape: Shape,
                                into out: UnsafeMutablePointer<Float>, _ outShape: Shape, relu: Bool) {
        if aShape == bShape {
            for i in 0..<outShape.count { out[i] = a[i] + b[i] }
        } else {
            out.update(repeating: 0, count: outShape.count)
            for (src, s) in [(a, aShape), (b, bShape)] {
                for n in 0..<s.n {
                    for y in 0..<s.height {
                        for x in 0..<s.width {
                            let from = src + ((n * s.height + y) * s.width + x) * s.channels
                            let to = out + ((n * outShape.height + y) * outShape.width + x) * outShape.channels
                            for j in 0..<s.channels { to[j] += from[j] }
                        }
                    }
                }
            }
        }
        if relu { Self.relu(out, count: outShape.count) }
    }

    /// `y (N×outputs) = x (N×inputs) · W (inputs×outputs) + b`.
    static func fullyConnected(_ fc: FullyConnected, input: UnsafePointer<Float>, n: Int, output: UnsafeMutablePointer<Float>,
                               mode: KernelMode) {
        fc.weights.withUnsafeBufferPointer { w in
            switch mode {
            case .fast, .blas:
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(fc.outputs), Int32(fc.inputs), 1,
                            input, Int32(fc.inputs), w.baseAddress, Int32(fc.outputs), 0, output, Int32(fc.outputs))
            case .reference:
                for i in 0..<n {
                    for o in 0..<fc.outputs {
                        var sum: Float = 0
                        for j in 0..<fc.inputs { sum += input[i * fc.inputs + j] * w[j * fc.outputs + o] }
                        output[i * fc.outputs + o] = sum
                    }
                }
            }
        }
        if let bias = fc.bias {
            for i in 0..<n { for o in 0..<fc.outputs { output[i * fc.outputs + o] += bias[o] } }
        }
    }
}
