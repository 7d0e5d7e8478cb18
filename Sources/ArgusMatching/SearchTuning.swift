/// Tunables of the exact search. Tests shrink them to force block edges on tiny data.
public struct SearchTuning: Sendable {
    /// How one query is scored.
    public enum SingleQueryKernel: String, Sendable, CaseIterable {
        /// `cblas_sgemv` per block (OpenBLAS threads inside each call).
        case blas
        /// Our streaming kernel, rows split across the cores, scores selected while still in L1/L2.
        case fused
    }

    public var singleQueryKernel: SingleQueryKernel = .fused
    /// Exact two-pass search for one query: scan a binary16 copy of the gallery (half the memory
    /// traffic), keep every row that could still be in the top k given the copy's proven error
    /// bound, and rescore those rows in Float32. Results equal the one-pass scan's; the gallery
    /// costs 2 more bytes per component. Used from `halfPrecisionMinRows` rows on.
    public var halfPrecisionPrefilter = true
    public var halfPrecisionMinRows = 65_536
    /// Gallery rows scored per kernel call for one query: 16,384 rows keep the 64 KiB score block in L2.
    public var singleQueryBlockRows: Int = 16_384
    /// Below this many rows, one query is scored on the calling thread alone.
    public var singleQueryParallelRows: Int = 4_096
    /// Batches smaller than this are scored by the streaming kernel, query by query over small
    /// gallery tiles that stay in L2 (sgemm's packing costs more than it saves for a few queries).
    public var batchGEMMMinQueries: Int = 32
    /// Gallery rows per tile of the small-batch path: 1,024 × d=128 floats is 512 KiB.
    public var smallBatchTileRows: Int = 1_024
    /// Gallery rows per `sgemm` block in batch search; the Q×B score block is the only scratch.
    public var batchBlockRows: Int = 8_192
    /// Queries per `sgemm` block in batch search.
    public var batchBlockQueries: Int = 256
    /// Upper bound on batch scratch (score block) in bytes, whatever the block sizes say.
    public var maxScratchBytes: Int = 64 << 20

    public init() {}
}
