import Foundation

/// Decision thresholds on the cosine of two templates, calibrated on ../shared/faces
/// (1,369 photos: 7,445 same-person and 928,951 different-person pairs; `argus eval calibrate`).
/// README § Thresholds has the numbers and how they were obtained.
public enum MatchThresholds {
    /// (false-accept rate, threshold) measured on the calibration pairs.
    public static let farTable: [(far: Double, threshold: Double)] = [
        (1e-2, 0.9070), (1e-3, 0.9243), (1e-4, 0.9385), (1e-5, 0.9493),
    ]
    /// Threshold growth per decade of FAR below the measured range (the last two decades' mean).
    static let slopePerDecade = 0.0125

    /// The default 1:1 threshold: the accuracy-optimal point on LFW-style balanced pairs, about
    /// FAR 1e-2 — the operating point of dlib's own tolerance 0.6 (cos ≈ 0.90). Stricter
    /// deployments pass a threshold for their FAR (`threshold(forFAR:)`).
    public static let verification: Float = 0.91

    /// The threshold that holds `far`, interpolated in log10(FAR) and extrapolated past 1e-5.
    public static func threshold(forFAR far: Double) -> Float {
        let x = log10(min(max(far, 1e-12), 1e-1))
        let table = farTable.map { (log10($0.far), $0.threshold) }
        if x >= table[0].0 {
            let slope = (table[1].1 - table[0].1) / (table[1].0 - table[0].0)
            return Float(table[0].1 + slope * (x - table[0].0))
        }
        for i in 1..<table.count where x >= table[i].0 {
            let (x0, y0) = table[i - 1], (x1, y1) = table[i]
            return Float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
        }
        let last = table[table.count - 1]
        return Float(min(0.99, last.1 + slopePerDecade * (last.0 - x)))
    }

    /// The 1:N threshold that holds a false-positive identification rate for a gallery of `n`
    /// templates: each search makes `n` comparisons, so per comparison FAR ≈ FPIR / n.
    /// Checked on ../shared/faces: n = 187 gives 0.9418 at FPIR 1e-2 and 0.9470 at 3e-3,
    /// against measured 0.9422 and 0.9471.
    public static func identification(gallerySize n: Int, targetFPIR: Double = 1e-2) -> Float {
        threshold(forFAR: targetFPIR / Double(max(1, n)))
    }
}
