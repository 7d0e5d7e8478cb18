private import CArgusBLAS
private import CArgusKernels
import Dispatch
import Foundation

/// Exact maximum-inner-product search over a `TemplateStore` (FAISS's IndexFlatIP, without ids).
///
/// Two paths behind one idea: one query is scored block by block with `cblas_sgemv`; a batch is
/// scored with `cblas_sgemm` over (query block × gallery block) tiles. Each score block streams
/// into per-query `TopK` heaps, so the full Q×N score matrix never exists and scratch memory is
/// bounded by `SearchTuning` whatever N is. Queries must already be L2-normalised.
struct FlatInnerProductIndex {
    var tuning = SearchTuning()

    init(tuning: SearchTuning = SearchTuning()) {
        SingleThreadedBLAS.configure()
        self.tuning = tuning
    }

    /// Top-k rows for one query.
    func search(_ store: TemplateStore, query: UnsafePointer<Float>, k: Int, minScore: Float) -> TopK {
        let n = store.count
        guard n > 0, let base = store.base else { return TopK(k: k, minScore: minScore) }  // BLAS does not like empty matrices
        switch tuning.singleQueryKernel {
        case .blas:
            return scanWithBLAS(base: base, rows: 0..<n, d: store.dimension, query: query, k: k, minScore: minScore)
        case .fused:
            if tuning.halfPrecisionPrefilter, n >= tuning.halfPrecisionMinRows, let half = store.half {
                return twoPass(base: base, half: half, n: n, d: store.dimension, query: query, k: k, minScore: minScore)
            }
            let workers = n < tuning.singleQueryParallelRows ? 1 : ProcessInfoShim.activeProcessorCount
            if workers == 1 {
                return scanFused(base: base, rows: 0..<n, d: store.dimension, query: query, k: k, minScore: minScore)
            }
            // Each core streams its own contiguous share of the rows into its own heap.
            var partial = [TopK?](repeating: nil, count: workers)
            partial.withUnsafeMutableBufferPointer { slots in
                nonisolated(unsafe) let out = slots
                nonisolated(unsafe) let gallery = base, q = query
                let d = store.dimension
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let rows = (n * w / workers)..<(n * (w + 1) / workers)
                    out[w] = scanFused(base: gallery, rows: rows, d: d, query: q, k: k, minScore: minScore)
                }
            }
            var heap = TopK(k: k, minScore: minScore)
            for part in partial { if let part { heap.merge(part) } }
            return heap
        }
    }

    /// Bound on |score over the binary16 copy − score over Float32| for unit vectors: binary16
    /// rounding is at most 2⁻¹¹ relative (normals) or 2⁻²⁵ absolute (subnormals) per component, so
    /// by Cauchy–Schwarz the dot product moves by ≤ 2⁻¹¹ + 2⁻²⁵·√d; Float32 accumulation in either
    /// pass adds ≤ d·2⁻²⁴ each.
    static func halfPrecisionErrorBound(dimension d: Int) -> Float {
        Float(pow(2.0, -11) * (1 + pow(2.0, -10)) + pow(2.0, -25) * Double(d).squareRoot() + Double(d) * pow(2.0, -23))
    }

    /// The two-pass exact search. With a_k the k-th best approximate score and ε the bound above,
    /// every true top-k row has an approximate score ≥ a_k − 2ε (it is ≥ e_k − ε, and a_k ≤ e_k + ε),
    /// so rescoring the rows above that line in Float32 yields exactly the one-pass result.
    private func twoPass(base: UnsafePointer<Float>, half: UnsafePointer<UInt16>, n: Int, d: Int, query: UnsafePointer<Float>,
                         k: Int, minScore: Float) -> TopK {
        let epsilon = Self.halfPrecisionErrorBound(dimension: d)
        let floor = minScore == -.infinity ? -.infinity : minScore - epsilon
        let workers = ProcessInfoShim.activeProcessorCount
        var partial = [(heap: TopK, candidates: [(row: Int, score: Float)])?](repeating: nil, count: workers)
        partial.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let out = slots
            nonisolated(unsafe) let rows16 = half, q = query
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var heap = TopK(k: k, minScore: floor)
                var candidates: [(row: Int, score: Float)] = []
                let blockRows = 4_096
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: blockRows)
                defer { scratch.deallocate() }
                var first = n * w / workers
                let end = n * (w + 1) / workers
                while first < end {
                    let count = min(blockRows, end - first)
                    argus_inner_products_f16(rows16 + first * d, count, d, q, scratch.baseAddress)
                    var line = heap.threshold - 2 * epsilon
                    for i in 0..<count where scratch[i] >= line {
                        candidates.append((first + i, scratch[i]))
                        heap.consider(scratch[i], row: first + i)
                        line = heap.threshold - 2 * epsilon
                    }
                    first += count
                }
                out[w] = (heap, candidates)
            }
        }
        var approximate = TopK(k: k, minScore: floor)
        for part in partial { if let part { approximate.merge(part.heap) } }
        // Fewer than k rows above the floor: every candidate above it counts.
        let line = approximate.scores.count == k ? max(approximate.threshold - 2 * epsilon, floor) : floor
        var exact = TopK(k: k, minScore: minScore)
        var score: Float = 0
        for part in partial {
            guard let part else { continue }
            for c in part.candidates where c.score >= line {
                argus_inner_products(base + c.row * d, 1, d, query, &score)
                exact.consider(score, row: c.row)
            }
        }
        return exact
    }

    private func scanWithBLAS(base: UnsafePointer<Float>, rows: Range<Int>, d: Int, query: UnsafePointer<Float>,
                              k: Int, minScore: Float) -> TopK {
        var heap = TopK(k: k, minScore: minScore)
        let blockRows = max(1, tuning.singleQueryBlockRows)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(blockRows, rows.count))
        defer { scratch.deallocate() }
        var first = rows.lowerBound
        while first < rows.upperBound {
            let count = min(blockRows, rows.upperBound - first)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(d), 1, base + first * d, Int32(d),
                        query, 1, 0, scratch.baseAddress, 1)
            heap.consider(block: UnsafeBufferPointer(rebasing: scratch[0..<count]), firstRow: first)
            first += count
        }
        return heap
    }

    private func scanFused(base: UnsafePointer<Float>, rows: Range<Int>, d: Int, query: UnsafePointer<Float>,
                           k: Int, minScore: Float) -> TopK {
        var heap = TopK(k: k, minScore: minScore)
        // Small blocks: the scores are selected while they are still in L1.
        let blockRows = max(1, min(tuning.singleQueryBlockRows, 4_096))
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(blockRows, rows.count))
        defer { scratch.deallocate() }
        var first = rows.lowerBound
        while first < rows.upperBound {
            let count = min(blockRows, rows.upperBound - first)
            argus_inner_products(base + first * d, count, d, query, scratch.baseAddress)
            heap.consider(block: UnsafeBufferPointer(rebasing: scratch[0..<count]), firstRow: first)
            first += count
        }
        return heap
    }

    /// Top-k rows for each of `queryCount` queries stored row-major at `queries`.
    func search(_ store: TemplateStore, queries: UnsafePointer<Float>, queryCount: Int, k: Int,
                minScore: Float) -> [TopK] {
        var heaps = (0..<queryCount).map { _ in TopK(k: k, minScore: minScore) }
        let n = store.count, d = store.dimension
        guard n > 0, queryCount > 0, let base = store.base else { return heaps }
        if queryCount == 1 { return [search(store, query: queries, k: k, minScore: minScore)] }
        if queryCount < tuning.batchGEMMMinQueries {
            return searchSmallBatch(base: base, n: n, d: d, queries: queries, queryCount: queryCount, k: k, minScore: minScore)
        }

        var qBlock = max(1, min(tuning.batchBlockQueries, queryCount))
        var nBlock = max(1, min(tuning.batchBlockRows, n))
        let workers = n < tuning.singleQueryParallelRows ? 1 : ProcessInfoShim.activeProcessorCount
        // The scratch bound holds for all workers together.
        let maxFloats = max(1, tuning.maxScratchBytes / MemoryLayout<Float>.stride / workers)
        while qBlock * nBlock > maxFloats && nBlock > 1 { nBlock = (nBlock + 1) / 2 }
        while qBlock * nBlock > maxFloats && qBlock > 1 { qBlock = (qBlock + 1) / 2 }

        // Each core takes a contiguous share of the gallery with its own heaps and scratch, and runs
        // single-threaded sgemm over (query block × row block) tiles; the shares merge at the end.
        var partial = [[TopK]](repeating: [], count: workers)
        partial.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let out = slots
            nonisolated(unsafe) let gallery = base, q = queries
            let (qb, nb) = (qBlock, nBlock)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var heaps = (0..<queryCount).map { _ in TopK(k: k, minScore: minScore) }
                let scores = UnsafeMutableBufferPointer<Float>.allocate(capacity: qb * nb)
                defer { scores.deallocate() }
                let end = n * (w + 1) / workers
                var q0 = 0
                while q0 < queryCount {
                    let qn = min(qb, queryCount - q0)
                    var r0 = n * w / workers
                    while r0 < end {
                        let rn = min(nb, end - r0)
                        // scores[q][r] = Σ_j queries[q0+q][j] · gallery[r0+r][j]
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(rn), Int32(d), 1,
                                    q + q0 * d, Int32(d), gallery + r0 * d, Int32(d), 0, scores.baseAddress, Int32(rn))
                        for j in 0..<qn {
                            heaps[q0 + j].consider(block: UnsafeBufferPointer(rebasing: scores[(j * rn)..<(j * rn + rn)]), firstRow: r0)
                        }
                        r0 += rn
                    }
                    q0 += qn
                }
                out[w] = heaps
            }
        }
        for part in partial {
            for (j, heap) in part.enumerated() { heaps[j].merge(heap) }
        }
        return heaps
    }

    /// A few queries: each core streams its share of the gallery once, tile by tile, and scores
    /// every query against a tile while it sits in L2.
    private func searchSmallBatch(base: UnsafePointer<Float>, n: Int, d: Int, queries: UnsafePointer<Float>,
                                  queryCount: Int, k: Int, minScore: Float) -> [TopK] {
        let workers = n < tuning.singleQueryParallelRows ? 1 : ProcessInfoShim.activeProcessorCount
        let tile = max(1, tuning.smallBatchTileRows)
        var partial = [[TopK]](repeating: [], count: workers)
        partial.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let out = slots
            nonisolated(unsafe) let gallery = base, q = queries
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var heaps = (0..<queryCount).map { _ in TopK(k: k, minScore: minScore) }
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: tile)
                defer { scratch.deallocate() }
                var first = n * w / workers
                let end = n * (w + 1) / workers
                while first < end {
                    let count = min(tile, end - first)
                    for j in 0..<queryCount {
                        argus_inner_products(gallery + first * d, count, d, q + j * d, scratch.baseAddress)
                        heaps[j].consider(block: UnsafeBufferPointer(rebasing: scratch[0..<count]), firstRow: first)
                    }
                    first += count
                }
                out[w] = heaps
            }
        }
        var heaps = (0..<queryCount).map { _ in TopK(k: k, minScore: minScore) }
        for part in partial {
            for (j, heap) in part.enumerated() { heaps[j].merge(heap) }
        }
        return heaps
    }

    /// Top-k among the given rows only (subset search).
    func search(_ store: TemplateStore, query: UnsafePointer<Float>, rows: [Int], k: Int, minScore: Float) -> TopK {
        var heap = TopK(k: k, minScore: minScore)
        let d = Int32(store.dimension)
        for row in rows {
            let score = cblas_sdot(d, store.row(row).baseAddress, 1, query, 1)
            heap.consider(score, row: row)
        }
        return heap
    }
}
