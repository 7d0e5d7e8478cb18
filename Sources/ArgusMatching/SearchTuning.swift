/// Tunables of the exact search. Tests shrink them to force block edges on tiny data.
public struct SearchTuning: Sendable {
    /// Gallery rows scored per `sgemv` call for one query: 16,384 rows keep the 64 KiB score block in L2.
    public var singleQueryBlockRows: Int = 16_384
    /// Gallery rows per `sgemm` block in batch search; the Q×B score block is the only scratch.
    public var batchBlockRows: Int = 8_192
    /// Queries per `sgemm` block in batch search.
    public var batchBlockQueries: Int = 256
    /// Upper bound on batch scratch (score block) in bytes, whatever the block sizes say.
    public var maxScratchBytes: Int = 64 << 20

    public init() {}
}
