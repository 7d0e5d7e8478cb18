/// 1:1 verification metrics over genuine (same person) and impostor (different people) scores,
/// where a higher score means more similar and a pair matches when `score ≥ threshold`.
public struct VerificationMetrics: Sendable {
    public let genuine: [Double]
    public let impostor: [Double]

    public init(genuine: [Double], impostor: [Double]) {
        self.genuine = genuine.sorted()
        self.impostor = impostor.sorted()
    }

    /// Fraction of impostor scores ≥ t.
    public func far(at t: Double) -> Double { fraction(impostor, atLeast: t) }
    /// Fraction of genuine scores ≥ t.
    public func tar(at t: Double) -> Double { fraction(genuine, atLeast: t) }
    public func frr(at t: Double) -> Double { 1 - tar(at: t) }

    /// Correct decisions over all pairs at threshold t.
    public func accuracy(at t: Double) -> Double {
        let total = genuine.count + impostor.count
        guard total > 0 else { return 0 }
        let correct = Double(genuine.count) * tar(at: t) + Double(impostor.count) * (1 - far(at: t))
        return correct / Double(total)
    }

    /// Every threshold worth trying: each observed score, and just above the highest.
    public var candidateThresholds: [Double] {
        let all = Array(Set(genuine + impostor)).sorted()
        return all + [(all.last ?? 0).nextUp]
    }

    /// The threshold of highest accuracy and that accuracy. Every t in (candidate below the first
    /// optimal candidate, last optimal candidate of that run] decides the same; the midpoint of that
    /// interval is returned, so a threshold trained on some pairs does not sit on their edge.
    public func bestThreshold() -> (threshold: Double, accuracy: Double) {
        let candidates = candidateThresholds
        let accuracies = candidates.map { accuracy(at: $0) }
        guard let best = accuracies.max(), let first = accuracies.firstIndex(of: best) else { return (0, 0) }
        var last = first
        while last + 1 < candidates.count && accuracies[last + 1] == best { last += 1 }
        let low = first > 0 ? candidates[first - 1] : candidates[first] - 1e-3
        return ((low + candidates[last]) / 2, best)
    }

    /// The lowest threshold whose FAR does not exceed `target`, and the TAR there. With n impostor
    /// scores the smallest measurable non-zero FAR is 1/n; below that the threshold sits just above
    /// the highest impostor score.
    public func tar(atFAR target: Double) -> (threshold: Double, tar: Double) {
        let allowed = Int((target * Double(impostor.count)).rounded(.down))
        guard let highest = impostor.last else { return (-.infinity, 1) }
        // Thresholds just above the (allowed+1)-th highest impostor score admit `allowed` impostors.
        let index = impostor.count - 1 - allowed
        let t = index >= 0 ? impostor[index].nextUp : (impostor.first ?? highest)
        return (t, tar(at: t))
    }

    /// Equal error rate: where FAR and FRR cross (the mean of the two at the closest threshold).
    public func equalErrorRate() -> (threshold: Double, rate: Double) {
        var best = (threshold: 0.0, gap: Double.infinity, rate: 1.0)
        for t in candidateThresholds {
            let far = self.far(at: t), frr = self.frr(at: t)
            if abs(far - frr) < best.gap { best = (t, abs(far - frr), (far + frr) / 2) }
        }
        return (best.threshold, best.rate)
    }

    /// (FAR, TAR) at every candidate threshold, FAR descending.
    public func rocPoints() -> [(far: Double, tar: Double)] {
        candidateThresholds.map { (far(at: $0), tar(at: $0)) }
    }

    /// k-fold cross-validated accuracy: each fold is scored at the threshold best on the others.
    /// `folds` assigns each genuine and impostor score to a fold (same order as given to init
    /// is *not* kept, so pass the pairs' folds explicitly).
    public static func crossValidated(genuine: [(score: Double, fold: Int)], impostor: [(score: Double, fold: Int)],
                                      folds: Int) -> (accuracy: Double, threshold: Double) {
        var accuracies: [Double] = [], thresholds: [Double] = []
        for f in 0..<folds {
            let train = VerificationMetrics(genuine: genuine.filter { $0.fold != f }.map(\.score),
                                            impostor: impostor.filter { $0.fold != f }.map(\.score))
            let test = VerificationMetrics(genuine: genuine.filter { $0.fold == f }.map(\.score),
                                           impostor: impostor.filter { $0.fold == f }.map(\.score))
            guard test.genuine.count + test.impostor.count > 0 else { continue }
            let t = train.bestThreshold().threshold
            accuracies.append(test.accuracy(at: t))
            thresholds.append(t)
        }
        guard !accuracies.isEmpty else { return (0, 0) }
        return (accuracies.reduce(0, +) / Double(accuracies.count), thresholds.reduce(0, +) / Double(thresholds.count))
    }

    private func fraction(_ sorted: [Double], atLeast t: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        // First index with value ≥ t.
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return Double(sorted.count - lo) / Double(sorted.count)
    }
}
