import Foundation
import Testing
@testable import ArgusFace

@Suite("Calibrated thresholds")
struct ThresholdTests {
    @Test("the FAR table is reproduced and interpolation is monotone")
    func table() {
        for row in MatchThresholds.farTable {
            #expect(abs(Double(MatchThresholds.threshold(forFAR: row.far)) - row.threshold) < 1e-6)
        }
        var previous: Float = 0
        for exponent in stride(from: -1.5, through: -9, by: -0.25) {
            let t = MatchThresholds.threshold(forFAR: pow(10, exponent))
            #expect(t >= previous)
            previous = t
        }
        #expect(MatchThresholds.threshold(forFAR: 1e-12) <= 0.99)
    }

    @Test("1:N thresholds grow with the gallery and match the measured point on ../shared/faces")
    func identification() {
        #expect(abs(MatchThresholds.identification(gallerySize: 187, targetFPIR: 1e-2) - 0.9422) < 0.002)
        #expect(MatchThresholds.identification(gallerySize: 1_000_000) > MatchThresholds.identification(gallerySize: 1_000))
    }
}
