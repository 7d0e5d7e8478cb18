/// The k best (score, row) pairs seen so far: a binary min-heap whose root is the worst kept pair.
///
/// Order: higher score first; equal scores go to the lower row, which makes results
/// deterministic on ties. `threshold` is the score a newcomer must reach once the heap is full,
/// so the hot loop rejects almost every score with a single comparison.
struct TopK {
    let k: Int
    private(set) var scores: [Float]
    private(set) var rows: [Int]
    private(set) var threshold: Float

    init(k: Int, minScore: Float = -.infinity) {
        precondition(k > 0, "k > 0")
        self.k = k
        scores = []
        rows = []
        scores.reserveCapacity(k)
        rows.reserveCapacity(k)
        threshold = minScore
    }

    /// True when (s1, r1) ranks below (s2, r2).
    @inline(__always)
    private static func worse(_ s1: Float, _ r1: Int, than s2: Float, _ r2: Int) -> Bool {
        s1 < s2 || (s1 == s2 && r1 > r2)
    }

    @inline(__always)
    mutating func consider(_ score: Float, row: Int) {
        guard score >= threshold else { return }
        if scores.count < k {
            scores.append(score)
            rows.append(row)
            siftUp(scores.count - 1)
            if scores.count == k { threshold = max(threshold, scores[0]) }
        } else {
            guard Self.worse(scores[0], rows[0], than: score, row) else { return }
            scores[0] = score
            rows[0] = row
            siftDown(0)
            threshold = scores[0]
        }
    }

    /// Scans a block of scores whose first entry is row `firstRow`.
    mutating func consider(block: UnsafeBufferPointer<Float>, firstRow: Int) {
        var t = threshold
        for i in 0..<block.count where block[i] >= t {
            consider(block[i], row: firstRow + i)
            t = threshold
        }
    }

    /// Merges another partial result over disjoint rows.
    mutating func merge(_ other: TopK) {
        for i in 0..<other.scores.count { consider(other.scores[i], row: other.rows[i]) }
    }

    /// The kept pairs, best first.
    func sorted() -> [(score: Float, row: Int)] {
        zip(scores, rows).map { (score: $0, row: $1) }.sorted { Self.worse($1.score, $1.row, than: $0.score, $0.row) }
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.worse(scores[i], rows[i], than: scores[parent], rows[parent]) else { return }
            scores.swapAt(i, parent)
            rows.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = scores.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, Self.worse(scores[l], rows[l], than: scores[m], rows[m]) { m = l }
            if r < n, Self.worse(scores[r], rows[r], than: scores[m], rows[m]) { m = r }
            if m == i { return }
            scores.swapAt(i, m)
            rows.swapAt(i, m)
            i = m
        }
    }
}
