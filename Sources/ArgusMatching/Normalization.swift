/// Validates a raw vector and returns its L2-normalised copy (accumulated in Double). A vector
/// already of unit length (within 1e-6, as every template of `FaceEmbedder` is) is kept bit for
/// bit: templates are normalised once, where they are made.
/// - Throws: `MatchingError.wrongDimension`, `.nonFinite` or `.zeroVector`.
func normalizedTemplate(_ vector: [Float], dimension: Int) throws(MatchingError) -> [Float] {
    guard vector.count == dimension else { throw .wrongDimension(expected: dimension, got: vector.count) }
    let scale = try vector.withUnsafeBufferPointer { (row) throws(MatchingError) in try unitScale(row) }
    guard let scale else { return vector }
    return vector.map { $0 * scale }
}

/// What a row needs to be of unit length: nil when it already is (within 1e-6 of 1 in squared
/// norm, as `normalizedTemplate` keeps it), else the factor to scale it by.
/// - Throws: `.nonFinite`, `.zeroVector`.
func unitScale(_ row: UnsafeBufferPointer<Float>) throws(MatchingError) -> Float? {
    var sum = 0.0
    for v in row {
        guard v.isFinite else { throw .nonFinite }
        sum += Double(v) * Double(v)
    }
    guard sum > 0, sum.isFinite else { throw .zeroVector }
    if abs(sum - 1) <= 1e-6 { return nil }
    return Float(1 / sum.squareRoot())
}

/// Templates laid end to end (row i at `i * dimension`), each of `dimension` values.
/// - Throws: `.wrongDimension` for the first that is not.
func contiguousRows(_ templates: some Collection<[Float]>, dimension: Int) throws(MatchingError) -> [Float] {
    var rows: [Float] = []
    rows.reserveCapacity(templates.count * dimension)
    for t in templates {
        guard t.count == dimension else { throw .wrongDimension(expected: dimension, got: t.count) }
        rows.append(contentsOf: t)
    }
    return rows
}
