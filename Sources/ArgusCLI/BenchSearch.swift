import ArgumentParser
import ArgusMatching
import Foundation

/// `argus bench search`: exact search timings on a random gallery, as JSON lines.
struct BenchSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Time 1:N search (one query and batches) on a random gallery."
    )

    @Option(help: "Gallery sizes, comma-separated.") var sizes: String = "10000,100000,1000000"
    @Option(help: "Template dimension.") var dimension: Int = 128
    @Option(help: "Queries per batch.") var batchSize: Int = 64
    // The foundation interface: `--count N --dim D --queries Q [--batch] --json` prints one object
    // with "ms_per_query", "count", "dim", "queries", "batch".
    @Option(help: "Gallery size (the one-object interface; with --dim, --queries and --batch).") var count: Int?
    @Option(help: "Template dimension (with --count).") var dim: Int?
    @Option(help: "Queries to time (with --count).") var queries: Int = 100
    @Flag(help: "With --count: search the queries as one batch (default: one at a time).") var batch = false
    @Option(help: "Results per query.") var k: Int = 10
    @Option(help: "Timed repetitions (the median is reported).") var repeats: Int = 15
    @Option(help: "Seed of the random gallery and queries.") var seed: UInt64 = 1
    @Option(help: "Gallery rows per sgemv block for one query (a tuning knob; default from SearchTuning).")
    var singleBlockRows: Int?
    @Option(help: "Gallery rows per sgemm block in batches (a tuning knob).") var batchBlockRows: Int?
    @Option(help: "Kernel for one query: blas or fused.") var singleKernel: String?
    @Option(help: "Also time saving and loading each gallery through a file in this directory.") var persistDir: String?
    @Flag(help: "Print one JSON object per size.") var json = false

    func validate() throws {
        guard dimension > 0, batchSize > 0, k > 0, repeats > 0 else { throw ValidationError("dimension, batch-size, k and repeats must be positive") }
        if let count { guard count > 0, queries > 0, (dim ?? dimension) > 0 else { throw ValidationError("--count, --dim and --queries must be positive") } }
        guard !parsedSizes.isEmpty else { throw ValidationError("--sizes needs at least one positive integer") }
    }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 } }

    func run() throws {
        if let count { return try runOne(count: count, dimension: dim ?? dimension) }
        for n in parsedSizes {
            var rng = BenchRandom(seed: seed &+ UInt64(n))
            var tuning = SearchTuning()
            if let singleBlockRows { tuning.singleQueryBlockRows = singleBlockRows }
            if let batchBlockRows { tuning.batchBlockRows = batchBlockRows }
            if let singleKernel, let kernel = SearchTuning.SingleQueryKernel(rawValue: singleKernel) { tuning.singleQueryKernel = kernel }
            let gallery = Gallery(dimension: dimension, tuning: tuning)
            var start = 0
            while start < n {
                let m = min(65_536, n - start)
                let entries = (0..<m).map { i in (id: "t\(start + i)", template: rng.vector(dimension)) }
                try gallery.add(entries)
                start += m
            }
            if let persistDir {
                let path = (persistDir as NSString).appendingPathComponent("bench-\(n).gallery")
                let t0 = DispatchTime.now().uptimeNanoseconds
                try gallery.save(to: path)
                let t1 = DispatchTime.now().uptimeNanoseconds
                let loaded = try Gallery.load(from: path)
                let t2 = DispatchTime.now().uptimeNanoseconds
                let bytes = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
                // A plain read of the same file, for "disk speed" (page cache warm, like the load).
                let t3 = DispatchTime.now().uptimeNanoseconds
                let raw = FileManager.default.contents(atPath: path)
                let t4 = DispatchTime.now().uptimeNanoseconds
                precondition(loaded.count == n && raw != nil)
                print(String(format: "N=%d: file %.0f MB; save (fsync) %.0f ms; load + verify %.0f ms (%.2f GB/s); plain read %.0f ms (%.2f GB/s)",
                             n, bytes / 1e6, Double(t1 - t0) / 1e6, Double(t2 - t1) / 1e6, bytes / Double(t2 - t1), Double(t4 - t3) / 1e6,
                             bytes / Double(t4 - t3)))
                try? FileManager.default.removeItem(atPath: path)
            }
            let single = rng.vector(dimension)
            let queries = (0..<batchSize).flatMap { _ in rng.vector(dimension) }
            // Single queries first: OpenBLAS's worker threads spin for a while after a batch's
            // sgemm and would steal a core from the single-query scan.
            _ = try gallery.search(single, k: k)  // warm-up: page in the gallery
            let one = try median(repeats) { _ = try gallery.search(single, k: k) }
            _ = try gallery.search(queries: queries, k: k)
            let many = try median(max(3, repeats / 3)) { _ = try gallery.search(queries: queries, k: k) }
            let perQuery = many / Double(batchSize)
            if json {
                let fields = "\"n\": \(n), \"d\": \(dimension), \"k\": \(k), \"batch\": \(batchSize), "
                    + "\"ms_single\": \(String(format: "%.4f", one)), \"ms_per_query_batched\": \(String(format: "%.4f", perQuery))"
                print("{\(fields)}")
            } else {
                print("N=\(n) d=\(dimension): one query \(String(format: "%.3f", one)) ms; batch of \(batchSize): \(String(format: "%.3f", perQuery)) ms/query")
            }
        }
    }

    /// One gallery of `count` × `dimension`, `queries` queries searched one by one or as one batch
    /// (median of `repeats` timings), reported as one JSON object.
    private func runOne(count: Int, dimension: Int) throws {
        var rng = BenchRandom(seed: seed &+ UInt64(count))
        let gallery = Gallery(dimension: dimension)
        var start = 0
        while start < count {
            let m = min(65_536, count - start)
            try gallery.add((0..<m).map { i in (id: "t\(start + i)", template: rng.vector(dimension)) })
            start += m
        }
        let probes = (0..<queries).map { _ in rng.vector(dimension) }
        let flat = probes.flatMap { $0 }
        let search: () throws -> Void = batch
            ? { _ = try gallery.search(queries: flat, k: k) }
            : { for q in probes { _ = try gallery.search(q, k: k) } }
        try search()  // warm-up: page in the gallery
        let ms = try median(max(3, repeats / 3), search) / Double(queries)
        let object: [String: Any] = ["ms_per_query": (ms * 10_000).rounded() / 10_000, "count": count, "dim": dimension, "queries": queries,
                                     "batch": batch, "k": k]
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    private func median(_ times: Int, _ body: () throws -> Void) throws -> Double {
        var samples = [Double]()
        for _ in 0..<times {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        samples.sort()
        if ProcessInfo.processInfo.environment["ARGUS_BENCH_VERBOSE"] != nil {
            FileHandle.standardError.write(Data("min \(samples[0]) median \(samples[samples.count / 2]) max \(samples[samples.count - 1])\n".utf8))
        }
        return samples[samples.count / 2]
    }
}

/// SplitMix64, so a gallery is the same for the same seed.
struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func vector(_ d: Int) -> [Float] {
        (0..<d).map { _ in Float(Int64(bitPattern: next() >> 11) - (1 << 52)) / Float(1 << 52) }
    }
}
