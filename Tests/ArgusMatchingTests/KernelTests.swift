import Testing
import CArgusKernels
@testable import ArgusMatching

@Suite("Inner-product kernel")
struct KernelTests {
    @Test("fast kernel equals the reference for every row count and dimension tail",
          arguments: [1, 3, 4, 5, 8, 13, 64, 127, 128, 129, 512])
    func matchesReference(d: Int) {
        var rng = SeededGenerator(seed: UInt64(d))
        for count in [0, 1, 3, 4, 5, 9, 100] {
            let rows = (0..<(count * d)).map { _ in Float.random(in: -1...1, using: &rng) }
            let query = (0..<d).map { _ in Float.random(in: -1...1, using: &rng) }
            var fast = [Float](repeating: .nan, count: count), slow = fast
            rows.withUnsafeBufferPointer { r in
                query.withUnsafeBufferPointer { q in
                    fast.withUnsafeMutableBufferPointer { argus_inner_products(r.baseAddress, count, d, q.baseAddress, $0.baseAddress) }
                    slow.withUnsafeMutableBufferPointer { argus_inner_products_reference(r.baseAddress, count, d, q.baseAddress, $0.baseAddress) }
                }
            }
            for i in 0..<count {
                // Summation order differs: relative error of a d-term Float32 sum.
                #expect(abs(fast[i] - slow[i]) <= 1e-5 * Float(d).squareRoot() * 4, "d=\(d) count=\(count) row \(i)")
            }
        }
    }
}

@Suite("Binary16 kernels")
struct HalfKernelTests {
    @Test("conversion rounds to nearest even and survives subnormals")
    func conversion() {
        let values: [Float] = [0, -0.0, 1, -1, 0.5, 65504, 1e-7, -3e-8, 0.1, 1 + 1 / 2048, 1 + 3 / 2048]
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBufferPointer { argus_f32_to_f16(v.baseAddress, $0.baseAddress, values.count) } }
        #expect(out[0] == 0x0000 && out[1] == 0x8000 && out[2] == 0x3C00 && out[3] == 0xBC00 && out[4] == 0x3800 && out[5] == 0x7BFF)
        for (v, h) in zip(values, out) {
            let back = Float(Float16(bitPattern: h))
            #expect(back == Float(Float16(v)), "\(v)")  // Swift's own conversion rounds to nearest even too
        }
    }

    @Test("fast binary16 scan equals its reference and stays within the bound of the Float32 scan", arguments: [3, 16, 100, 128])
    func scan(d: Int) {
        var rng = SeededGenerator(seed: UInt64(d))
        for count in [1, 4, 7, 50] {
            let rows = (0..<(count * d)).map { _ in Float.random(in: -0.2...0.2, using: &rng) }
            let query = (0..<d).map { _ in Float.random(in: -0.2...0.2, using: &rng) }
            var half = [UInt16](repeating: 0, count: rows.count)
            var fast = [Float](repeating: .nan, count: count), slow = fast, exact = fast
            rows.withUnsafeBufferPointer { r in
                half.withUnsafeMutableBufferPointer { argus_f32_to_f16(r.baseAddress, $0.baseAddress, rows.count) }
                query.withUnsafeBufferPointer { q in
                    half.withUnsafeBufferPointer { h in
                        fast.withUnsafeMutableBufferPointer { argus_inner_products_f16(h.baseAddress, count, d, q.baseAddress, $0.baseAddress) }
                        slow.withUnsafeMutableBufferPointer { argus_inner_products_f16_reference(h.baseAddress, count, d, q.baseAddress, $0.baseAddress) }
                    }
                    exact.withUnsafeMutableBufferPointer { argus_inner_products_reference(r.baseAddress, count, d, q.baseAddress, $0.baseAddress) }
                }
            }
            for i in 0..<count {
                #expect(abs(fast[i] - slow[i]) <= 1e-5)
                // |q|·|row| ≤ 0.2²·d here; the bound scales with it.
                let scale = 0.04 * Float(d)
                #expect(abs(fast[i] - exact[i]) <= FlatInnerProductIndex.halfPrecisionErrorBound(dimension: d) * scale)
            }
        }
    }
}
