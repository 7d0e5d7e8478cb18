/// Validates a raw vector and returns its L2-normalised copy (accumulated in Double). A vector
/// already of unit length (within 1e-6, as every template of `FaceEmbedder` is) is kept bit for
/// bit: templates are normalised once, where they are made.
/// - Throws: `MatchingError.wrongDimension`, `.nonFinite` or `.zeroVector`.
func normalizedTemplate(_ vector: [Float], dimension: Int) throws(MatchingError) -> [Float] {
    guard vector.count == dimension else { throw .wrongDimension(expected: dimension, got: vector.count) }
    var sum = 0.0
    for v in vector {
        guard v.isFinite else { throw .nonFinite }
        sum += Double(v) * Double(v)
    }
    guard sum > 0, sum.isFinite else { throw .zeroVector }
    if abs(sum - 1) <= 1e-6 { return vector }
    let scale = Float(1 / sum.squareRoot())
    return vector.map { $0 * scale }
}
