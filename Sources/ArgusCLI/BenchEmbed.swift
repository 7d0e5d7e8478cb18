import ArgumentParser
import ArgusFace
import ArgusImaging
import ArgusNN
import Foundation

/// `argus bench embed`: descriptor throughput on chips.
struct BenchEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Time the descriptor network (ms per chip) at a batch size."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Chips per network call.") var batch: Int = 32
    @Option(help: "Cores to use (default: all).") var threads: Int?
    @Option(help: "Timed calls (the median is reported).") var repeats: Int = 7
    @Option(help: "Images per step inside a worker (a tuning knob).") var imagesPerStep: Int = 8
    @Option(parsing: .upToNextOption, help: "Chips to use (150x150 PNG/JPEG); default: synthetic chips.") var chip: [String] = []
    @Flag(help: "Print where a single-threaded pass spends its time, with GFLOP/s per convolution layer.") var profile = false
    @Option(help: "With --profile: `direct` (the microkernels) or `blas` (im2col + sgemm, for comparison).")
    var kernels: String = "direct"
    @Option(help: "Concurrent callers sharing the one network (each with --threads cores); reports throughput.")
    var callers: Int = 1
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard batch > 0, repeats > 0, (threads ?? 1) > 0, imagesPerStep > 0 else { throw ValidationError("values must be positive") }
        guard ["direct", "blas"].contains(kernels) else { throw ValidationError("--kernels is direct or blas") }
    }

    struct Result: Encodable {
        let ms_per_chip: Double
        let batch: Int
        let threads: Int
    }

    func run() throws {
        let embedder = try FaceEmbedder(models: global.modelDirectory)
        var chips: [RGBImage] = try chip.map { try ImageDecoder().decode(fileAt: $0) }
        if chips.isEmpty {
            var rng = SystemRandomNumberGenerator()
            chips = [RGBImage(width: 150, height: 150, pixels: (0..<(150 * 150 * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })]
        }
        let input = (0..<batch).map { chips[$0 % chips.count] }
        let workers = threads ?? BLASThreads.cores
        let size = FaceEmbedder.chipSize
        // Time the network itself on prepared tensors, as the ONNX Runtime anchor does.
        var tensor = [Float]()
        for c in input {
            for i in 0..<(size * size) {
                tensor.append((Float(c.pixels[3 * i]) - embedder.mean.r) / 256)
                tensor.append((Float(c.pixels[3 * i + 1]) - embedder.mean.g) / 256)
                tensor.append((Float(c.pixels[3 * i + 2]) - embedder.mean.b) / 256)
            }
        }
        let shape = Shape(n: batch, height: size, width: size, channels: 3)
        if profile {
            let phases = try embedder.network.profile(tensor, shape: shape, imagesPerStep: imagesPerStep,
                                                      mode: kernels == "blas" ? .blas : .fast, threads: threads ?? 1)
            ProfileTable.print(phases, batch: batch, kernels: kernels == "blas" ? "im2col + OpenBLAS sgemm" : embedder.network.kernels.rawValue,
                               threads: threads ?? 1)
            return
        }
        if callers > 1 {
            // Callers share the network; each draws its own workspace from the pool.
            nonisolated(unsafe) let input = tensor
            let net = embedder.network, steps = imagesPerStep, rounds = repeats
            let t0 = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: callers) { _ in
                for _ in 0..<rounds { _ = try? net.forward(input, shape: shape, threads: workers, imagesPerStep: steps) }
            }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(callers * rounds * batch)
            print(String(format: "%d callers × batch %d, %d threads each: %.2f ms per chip overall; %d workspaces in the pool",
                         callers, batch, workers, ms, net.pool.idleCount))
            return
        }
        _ = try embedder.network.forward(tensor, shape: shape, threads: workers, imagesPerStep: imagesPerStep)  // warm-up
        var samples = [Double]()
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try embedder.network.forward(tensor, shape: shape, threads: workers, imagesPerStep: imagesPerStep)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(batch))
        }
        samples.sort()
        let ms = samples[samples.count / 2]
        if json {
            try JSONLine.print(Result(ms_per_chip: (ms * 1000).rounded() / 1000, batch: batch, threads: workers))
        } else {
            print(String(format: "batch %d, %d threads: %.2f ms per chip (%.0f chips/s)", batch, workers, ms, 1000 / ms))
        }
    }
}
