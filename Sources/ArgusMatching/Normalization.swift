/// Validates a raw vector and returns its L2-normalised copy (accumulated in Double).
/// - Throws: `MatchingError.wrongDimension`, `.nonFinite` or `.zeroVector`.
func normalizedTemplate(_ vector: [Float], dimension: Int) throws(MatchingError) -> [Float] {
    guard vector.count == dimension else { throw .wrongDimension(expected: dimension, got: vector.count) }
    var sum = 0.0
    for v in vector {
        guard v.isFinite else { throw .nonFinite }
        sum += Double(v) * Double(v)
    }
    guard sum > 0, sum.isFinite else { throw .zeroVector }
    let scale = Float(1 / sum.squareRoot())
    return vector.map { $0 * scale }
}
