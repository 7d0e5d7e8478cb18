import Testing
@testable import ArgusEval

@Suite("Verification and identification metrics")
struct MetricsTests {
    let m = VerificationMetrics(genuine: [0.9, 0.8, 0.7, 0.4], impostor: [0.1, 0.2, 0.3, 0.75])

    @Test("FAR, TAR and accuracy count scores at or above the threshold")
    func rates() {
        #expect(m.tar(at: 0.7) == 0.75 && m.far(at: 0.7) == 0.25)
        #expect(m.accuracy(at: 0.7) == 0.75)
        #expect(m.accuracy(at: 0.76) == 0.75 && m.accuracy(at: 0.4) == 0.875)
        #expect(m.bestThreshold().accuracy == 0.875)
        #expect(m.bestThreshold().threshold > 0.3 && m.bestThreshold().threshold <= 0.4)
    }

    @Test("TAR at a FAR below the resolution sits just above the highest impostor")
    func tarAtFAR() {
        let r = m.tar(atFAR: 1e-3)
        #expect(r.threshold > 0.75 && r.threshold < 0.76)
        #expect(r.tar == 0.5)
        #expect(m.tar(atFAR: 0.25).tar == 1.0)  // one impostor allowed: the threshold drops below 0.4
    }

    @Test("EER where FAR meets FRR, and cross-validation on separable folds is perfect")
    func eerAndCV() {
        #expect(m.equalErrorRate().rate == 0.25)
        let g = (0..<20).map { (score: 0.8 + Double($0) * 0.001, fold: $0 % 10) }
        let i = (0..<20).map { (score: 0.2 + Double($0) * 0.001, fold: $0 % 10) }
        #expect(VerificationMetrics.crossValidated(genuine: g, impostor: i, folds: 10).accuracy == 1)
    }

    @Test("CMC, FPIR and FNIR")
    func identification() {
        let id = IdentificationMetrics(mated: [.init(rank: 1, score: 0.95), .init(rank: 2, score: 0.9), .init(rank: nil, score: nil),
                                               .init(rank: 1, score: 0.91)],
                                       nonMatedTopScores: [0.5, 0.92, 0.6, 0.7])
        #expect(id.cmc(rank: 1) == 0.5 && id.cmc(rank: 2) == 0.75)
        #expect(id.fpir(at: 0.9) == 0.25)
        #expect(id.fnir(at: 0.93) == 0.75)
        let r = id.fnir(atFPIR: 0.01)
        #expect(r.threshold > 0.92 && r.fnir == 0.75)
    }

    @Test("SVG output is well-formed enough to open")
    func svg() {
        let s = SVGPlot(title: "t <&>", xLabel: "x", yLabel: "y", xRange: 1e-3...1, yRange: 0...1, logX: true,
                        series: [.init(name: "a", points: [(1e-3, 0.5), (1, 1)])]).render()
        #expect(s.hasPrefix("<svg") && s.contains("polyline") && s.contains("t &lt;&amp;&gt;") && s.hasSuffix("</svg>\n"))
    }
}
