// swift-tools-version: 6.1
// Benchmarks live in their own package so the library never depends on the benchmark framework.
import PackageDescription

let package = Package(
    name: "ArgusBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named, so the root package resolves whatever folder the clone is in.
        .package(name: "Argus", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SearchBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ArgusMatching", package: "Argus"),
            ],
            path: "Benchmarks/SearchBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
