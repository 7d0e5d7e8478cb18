import Testing
import CArgusKernels

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
