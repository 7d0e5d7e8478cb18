import ArgusMatching
import Benchmark

// Exact search at the sizes the README reports: N = 10k, 100k, 1M at d = 128, and 1M at d = 512;
// one query, and batches of 64 (the metric is per batch; divide by 64 for ms per query).
// The anchors (numpy, FAISS IndexFlatIP) run beside Argus in Benchmarks/anchors/search.py.

func randomGallery(count: Int, dimension: Int) -> Gallery {
    var rng = SystemRandomNumberGenerator()
    let gallery = Gallery(dimension: dimension)
    let chunk = 50_000
    var start = 0
    while start < count {
        let n = min(chunk, count - start)
        let entries = (0..<n).map { i in
            (id: "t\(start + i)", template: (0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        try! gallery.add(entries)  // benchmark set-up; random vectors are never zero
        start += n
    }
    return gallery
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(3), maxIterations: 50)
    for (count, dimension) in [(10_000, 128), (100_000, 128), (1_000_000, 128), (1_000_000, 512)] {
        let label = "N=\(count / 1000)k d=\(dimension)"
        Benchmark("search 1 query \(label)", configuration: .init(warmupIterations: 2)) { benchmark, gallery in
            let query = (0..<dimension).map { _ in Float.random(in: -1...1) }
            benchmark.startMeasurement()
            blackHole(try gallery.search(query, k: 10))
        } setup: {
            randomGallery(count: count, dimension: dimension)
        }
        Benchmark("search batch 64 \(label)", configuration: .init(warmupIterations: 1)) { benchmark, gallery in
            let queries = (0..<(64 * dimension)).map { _ in Float.random(in: -1...1) }
            benchmark.startMeasurement()
            blackHole(try gallery.search(queries: queries, k: 10))
        } setup: {
            randomGallery(count: count, dimension: dimension)
        }
    }
}
