/// Open-set 1:N identification metrics (NIST FRVT style) from candidate lists.
public struct IdentificationMetrics: Sendable {
    /// A mated search: the rank (1-based) at which the mate appeared, and its score; nil if absent.
    public struct Mated: Sendable {
        public var rank: Int?
        public var score: Double?
        public init(rank: Int?, score: Double?) { (self.rank, self.score) = (rank, score) }
    }

    public let mated: [Mated]
    /// The top score of each non-mated search (nil when the gallery returned nothing).
    public let nonMatedTopScores: [Double]

    public init(mated: [Mated], nonMatedTopScores: [Double]) {
        self.mated = mated
        self.nonMatedTopScores = nonMatedTopScores.sorted()
    }

    /// Fraction of mated searches with the mate at rank ≤ r.
    public func cmc(rank r: Int) -> Double {
        guard !mated.isEmpty else { return 0 }
        return Double(mated.filter { ($0.rank ?? .max) <= r }.count) / Double(mated.count)
    }

    /// Fraction of non-mated searches whose top score is ≥ t.
    public func fpir(at t: Double) -> Double {
        guard !nonMatedTopScores.isEmpty else { return 0 }
        return Double(nonMatedTopScores.filter { $0 >= t }.count) / Double(nonMatedTopScores.count)
    }

    /// Fraction of mated searches whose mate is not at rank 1 with a score ≥ t.
    public func fnir(at t: Double) -> Double {
        guard !mated.isEmpty else { return 0 }
        return Double(mated.filter { !($0.rank == 1 && ($0.score ?? -.infinity) >= t) }.count) / Double(mated.count)
    }

    /// The lowest threshold with FPIR ≤ target, and the FNIR there.
    public func fnir(atFPIR target: Double) -> (threshold: Double, fnir: Double) {
        let allowed = Int((target * Double(nonMatedTopScores.count)).rounded(.down))
        let index = nonMatedTopScores.count - 1 - allowed
        let t = index >= 0 ? nonMatedTopScores[index].nextUp : -.infinity
        return (t, fnir(at: t))
    }
}
