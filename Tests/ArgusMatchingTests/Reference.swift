@testable import ArgusMatching

/// Deterministic generator for reproducible test data (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Reference {
    static func randomVectors(_ n: Int, dimension: Int, seed: UInt64) -> [[Float]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<n).map { _ in (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) } }
    }

    static func normalized(_ v: [Float]) -> [Double] {
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return v.map { Double($0) / norm }
    }

    /// Naive Double brute force: every (id, cosine), best first, ties by insertion order.
    static func bruteForce(query: [Float], entries: [(id: String, vector: [Float])]) -> [(id: String, score: Double)] {
        BruteForce(entries).rank(query)
    }

    /// Checks a Float top-k against the Double reference: same length, scores within `tolerance`
    /// rank by rank, and ids equal except where the reference itself has a near-tie at that rank.
    static func agrees(_ got: [Match], _ expected: [(id: String, score: Double)], k: Int,
                       tolerance: Double = 1e-5) -> String? {
        let want = Array(expected.prefix(k))
        guard got.count == want.count else { return "got \(got.count) results, expected \(want.count)" }
        for (rank, (g, w)) in zip(got, want).enumerated() {
            guard abs(Double(g.score) - w.score) <= tolerance else {
                return "rank \(rank): score \(g.score) vs \(w.score)"
            }
            if g.id != w.id {
                let scoreOfGot = expected.first { $0.id == g.id }?.score ?? -2
                guard abs(scoreOfGot - w.score) <= tolerance else { return "rank \(rank): id \(g.id) vs \(w.id)" }
            }
        }
        return nil
    }
}

/// The reference ranker, with the gallery side normalised once.
struct BruteForce {
    let ids: [String]
    let rows: [[Double]]

    init(_ entries: [(id: String, vector: [Float])]) {
        ids = entries.map(\.id)
        rows = entries.map { Reference.normalized($0.vector) }
    }

    func rank(_ query: [Float]) -> [(id: String, score: Double)] {
        let q = Reference.normalized(query)
        var scored = [(Int, Double)]()
        scored.reserveCapacity(rows.count)
        for (i, row) in rows.enumerated() {
            var dot = 0.0
            for j in 0..<q.count { dot += q[j] * row[j] }
            scored.append((i, dot))
        }
        scored.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return scored.map { (id: ids[$0.0], score: $0.1) }
    }
}
