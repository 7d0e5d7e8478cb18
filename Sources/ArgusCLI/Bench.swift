import ArgumentParser

extension Argus {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure Argus on this machine (the anchor scripts in Benchmarks/anchors call these).",
            subcommands: [BenchSearch.self, BenchEmbed.self, BenchDetect.self, BenchPipeline.self, BenchSeed.self]
        )
    }
}
