import ArgusNN
import Foundation

/// The table `argus bench embed --profile` and `argus bench detect --profile` print.
enum ProfileTable {
    static func print(_ phases: [Network.ProfilePhase], batch: Int, kernels: String, threads: Int = 1) {
        let total = phases.filter { $0.phase.hasPrefix("op ") }.reduce(0) { $0 + $1.ms }
        Swift.print(String(format: "%@, batch %d, kernels %@: %.1f ms (%.2f ms per image)",
                           threads == 1 ? "single-threaded pass" : "pass with each layer split over \(threads) threads",
                           batch, kernels, total, total / Double(max(batch, 1))))
        let counted = phases.filter { $0.gflops != nil }
        if !counted.isEmpty {
            let ms = counted.reduce(0) { $0 + $1.ms }, gflop = counted.reduce(0) { $0 + ($1.gflops ?? 0) * $1.ms / 1000 }
            Swift.print(String(format: "convolution layers: %.1f ms, %.2f GFLOP, %.1f GFLOP/s", ms, gflop, gflop / (ms / 1000)))
        }
        for p in phases {
            let speed = p.gflops.map { String(format: "%6.1f GFLOP/s", $0) } ?? ""
            Swift.print(String(format: "  %-40@ %8.2f ms  %5.1f%%  %@", p.phase, p.ms, 100 * p.ms / max(total, 1e-9), speed))
        }
    }
}
