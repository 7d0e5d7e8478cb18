private import CArgusBLAS
import Dispatch

/// Exact maximum-inner-product search over a `TemplateStore` (FAISS's IndexFlatIP, without ids).
///
/// Two paths behind one idea: one query is scored block by block with `cblas_sgemv`; a batch is
/// scored with `cblas_sgemm` over (query block × gallery block) tiles. Each score block streams
/// into per-query `TopK` heaps, so the full Q×N score matrix never exists and scratch memory is
/// bounded by `SearchTuning` whatever N is. Queries must already be L2-normalised.
struct FlatInnerProductIndex {
    var tuning = SearchTuning()

    /// Top-k rows for one query.
    func search(_ store: TemplateStore, query: UnsafePointer<Float>, k: Int, minScore: Float) -> TopK {
        var heap = TopK(k: k, minScore: minScore)
        let n = store.count, d = store.dimension
        guard n > 0, let base = store.base else { return heap }  // BLAS does not like empty matrices
        let blockRows = max(1, tuning.singleQueryBlockRows)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(blockRows, n))
        defer { scratch.deallocate() }
        var first = 0
        while first < n {
            let rows = min(blockRows, n - first)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(d), 1, base + first * d, Int32(d),
                        query, 1, 0, scratch.baseAddress, 1)
            heap.consider(block: UnsafeBufferPointer(rebasing: scratch[0..<rows]), firstRow: first)
            first += rows
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

        var qBlock = max(1, min(tuning.batchBlockQueries, queryCount))
        var nBlock = max(1, min(tuning.batchBlockRows, n))
        let maxFloats = max(1, tuning.maxScratchBytes / MemoryLayout<Float>.stride)
        while qBlock * nBlock > maxFloats && nBlock > 1 { nBlock = (nBlock + 1) / 2 }
        while qBlock * nBlock > maxFloats && qBlock > 1 { qBlock = (qBlock + 1) / 2 }
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: qBlock * nBlock)
        defer { scratch.deallocate() }
        let workers = max(1, min(ProcessInfoShim.activeProcessorCount, qBlock))

        heaps.withUnsafeMutableBufferPointer { heapBuffer in
            nonisolated(unsafe) let heapsOut = heapBuffer
            nonisolated(unsafe) let scores = scratch
            var q0 = 0
            while q0 < queryCount {
                let qn = min(qBlock, queryCount - q0)
                var r0 = 0
                while r0 < n {
                    let rn = min(nBlock, n - r0)
                    // scores[q][r] = Σ_j queries[q0+q][j] · gallery[r0+r][j]
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(rn), Int32(d), 1,
                                queries + q0 * d, Int32(d), base + r0 * d, Int32(d), 0, scores.baseAddress, Int32(rn))
                    let firstQuery = q0, firstRow = r0
                    // Selection is split over the cores by query; each heap has a single writer.
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let lo = qn * w / workers, hi = qn * (w + 1) / workers
                        for q in lo..<hi {
                            let block = UnsafeBufferPointer(rebasing: scores[(q * rn)..<(q * rn + rn)])
                            heapsOut[firstQuery + q].consider(block: block, firstRow: firstRow)
                        }
                    }
                    r0 += rn
                }
                q0 += qn
            }
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
