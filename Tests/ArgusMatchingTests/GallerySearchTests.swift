import Testing
import Glibc
@testable import ArgusMatching

@Suite("Exact search against a Double brute force")
struct GallerySearchTests {
    static let sizes = [1, 2, 7, 100, 1_000, 10_000, 100_000]

    /// Tiny blocks and tiles so block edges run on small data; sgemm for every batch.
    static func tinyBlocks() -> SearchTuning {
        var t = SearchTuning()
        t.singleQueryBlockRows = 7
        t.singleQueryParallelRows = 2
        t.batchBlockRows = 5
        t.batchBlockQueries = 3
        t.batchGEMMMinQueries = 2
        t.smallBatchTileRows = 3
        return t
    }

    /// The BLAS single-query path and the tiled small-batch path, with small blocks.
    static func blasAndTiles() -> SearchTuning {
        var t = SearchTuning()
        t.singleQueryKernel = .blas
        t.singleQueryBlockRows = 11
        t.singleQueryParallelRows = 2
        t.batchGEMMMinQueries = 1_000
        t.smallBatchTileRows = 13
        return t
    }

    func build(_ n: Int, dimension: Int = 32, seed: UInt64, tuning: SearchTuning = SearchTuning())
        throws -> (Gallery, [(id: String, vector: [Float])]) {
        let vectors = Reference.randomVectors(n, dimension: dimension, seed: seed)
        let entries = vectors.enumerated().map { (id: "id\($0.offset)", vector: $0.element) }
        let gallery = Gallery(dimension: dimension, tuning: tuning)
        try gallery.add(entries.map { (id: $0.id, template: $0.vector) })
        return (gallery, entries)
    }

    @Test("single-query top-k equals brute force (k > N included)", arguments: sizes)
    func single(n: Int) throws {
        for tuning in [SearchTuning(), Self.tinyBlocks(), Self.blasAndTiles()] where n <= 10_000 || tuning.singleQueryBlockRows > 11 {
            let (gallery, entries) = try build(n, seed: UInt64(n), tuning: tuning)
            let queries = Reference.randomVectors(3, dimension: 32, seed: 99)
            let ranker = BruteForce(entries)
            let references = queries.map(ranker.rank)
            for k in [1, 10, n + 5] {
                for (q, reference) in zip(queries, references) {
                    let got = try gallery.search(q, k: k)
                    if let problem = Reference.agrees(got, reference, k: k) {
                        Issue.record("N=\(n) k=\(k): \(problem)")
                    }
                }
            }
        }
    }

    @Test("batch top-k equals brute force, block edges forced", arguments: [1, 7, 100, 10_000, 100_000])
    func batch(n: Int) throws {
        for tuning in [SearchTuning(), Self.tinyBlocks(), Self.blasAndTiles()] where n <= 10_000 || tuning.singleQueryBlockRows > 11 {
            let (gallery, entries) = try build(n, seed: UInt64(n) + 1, tuning: tuning)
            let queries = Reference.randomVectors(9, dimension: 32, seed: 7)
            let ranker = BruteForce(entries)
            let references = queries.map(ranker.rank)
            for k in [1, 5, n + 1] {
                let results = try gallery.search(queries: queries.flatMap { $0 }, k: k)
                #expect(results.count == queries.count)
                for (reference, got) in zip(references, results) {
                    if let problem = Reference.agrees(got, reference, k: k) {
                        Issue.record("N=\(n) k=\(k): \(problem)")
                    }
                }
            }
        }
    }

    @Test("empty gallery and empty batch return nothing")
    func empty() throws {
        let gallery = Gallery(dimension: 4)
        #expect(try gallery.search([1, 0, 0, 0], k: 3).isEmpty)
        #expect(try gallery.search(queries: [], k: 3).isEmpty)
        #expect(try gallery.search(queries: [1, 0, 0, 0, 0, 1, 0, 0], k: 3) == [[], []])
    }

    @Test("minScore drops weaker candidates")
    func minScore() throws {
        let (gallery, entries) = try build(500, seed: 5)
        let q = entries[42].vector
        let got = try gallery.search(q, k: 50, minScore: 0.3)
        let expected = Reference.bruteForce(query: q, entries: entries).filter { $0.score >= 0.3 }
        #expect(got.first?.id == "id42")
        #expect(got.allSatisfy { $0.score >= 0.3 })
        #expect(got.count == min(50, expected.count))
    }

    @Test("ties are ordered by insertion, the same way every time")
    func ties() throws {
        let gallery = Gallery(dimension: 3)
        for i in 0..<20 { try gallery.add(id: "same\(i)", template: [1, 2, 3]) }
        try gallery.add(id: "other", template: [3, 2, 1])
        let first = try gallery.search([1, 2, 3], k: 5)
        #expect(first.map(\.id) == ["same0", "same1", "same2", "same3", "same4"])
        #expect(try gallery.search(queries: [1, 2, 3, 1, 2, 3], k: 5) == [first, first])
    }

    @Test("subset search looks only at the named ids")
    func subset() throws {
        let (gallery, entries) = try build(2_000, seed: 11)
        let subset = Set((0..<2_000).filter { $0 % 3 == 0 }.map { "id\($0)" })
        let q = Reference.randomVectors(1, dimension: 32, seed: 3)[0]
        let got = try gallery.search(q, k: 10, among: subset.union(["not-there"]))
        let expected = Reference.bruteForce(query: q, entries: entries.filter { subset.contains($0.id) })
        #expect(Reference.agrees(got, expected, k: 10) == nil)
        #expect(try gallery.search(q, k: 10, among: [String]()).isEmpty)
    }

    @Test("verify is the cosine of the normalised templates")
    func verify() throws {
        #expect(abs(try Gallery.verify([3, 4], [6, 8]) - 1) < 1e-6)
        #expect(abs(try Gallery.verify([1, 0], [0, 5])) < 1e-6)
        #expect(abs(try Gallery.verify([1, 1], [-2, -2]) + 1) < 1e-6)
        #expect(throws: MatchingError.wrongDimension(expected: 2, got: 3)) { try Gallery.verify([1, 0], [1, 0, 0]) }
        #expect(throws: MatchingError.zeroVector) { try Gallery.verify([0, 0], [1, 0]) }
    }
}

@Suite("Exact two-pass search over the binary16 copy")
struct TwoPassSearchTests {
    static func tunings() -> (twoPass: SearchTuning, onePass: SearchTuning) {
        var twoPass = SearchTuning()
        twoPass.halfPrecisionMinRows = 1
        var onePass = SearchTuning()
        onePass.halfPrecisionPrefilter = false
        return (twoPass, onePass)
    }

    @Test("random galleries: two-pass equals one-pass and brute force", arguments: [1, 5, 300, 20_000])
    func random(n: Int) throws {
        let (twoPass, onePass) = Self.tunings()
        let vectors = Reference.randomVectors(n, dimension: 64, seed: UInt64(n) &* 31)
        let entries = vectors.enumerated().map { (id: "r\($0.offset)", template: $0.element) }
        let a = Gallery(dimension: 64, tuning: twoPass), b = Gallery(dimension: 64, tuning: onePass)
        try a.add(entries)
        try b.add(entries)
        let ranker = BruteForce(entries.map { (id: $0.id, vector: $0.template) })
        for q in Reference.randomVectors(4, dimension: 64, seed: 5) {
            for k in [1, 7, n + 3] {
                let got = try a.search(q, k: k)
                #expect(got == (try b.search(q, k: k)))
                #expect(Reference.agrees(got, ranker.rank(q), k: k) == nil)
                #expect(try a.search(q, k: k, minScore: 0.1) == (try b.search(q, k: k, minScore: 0.1)))
            }
        }
    }

    @Test("near-ties closer than binary16 can tell apart are still ranked exactly")
    func nearTies() throws {
        let (twoPass, onePass) = Self.tunings()
        var rng = SeededGenerator(seed: 17)
        let centre = Reference.randomVectors(1, dimension: 128, seed: 3)[0]
        // 3,000 rows within 1e-5 of each other (far below binary16's 1e-3 resolution here), plus noise rows.
        var entries: [(id: String, template: [Float])] = []
        for i in 0..<3_000 {
            entries.append((id: "tie\(i)", template: centre.map { $0 + Float.random(in: -1e-5...1e-5, using: &rng) }))
        }
        for (i, v) in Reference.randomVectors(5_000, dimension: 128, seed: 4).enumerated() { entries.append((id: "noise\(i)", template: v)) }
        let a = Gallery(dimension: 128, tuning: twoPass), b = Gallery(dimension: 128, tuning: onePass)
        try a.add(entries)
        try b.add(entries)
        for k in [1, 10, 100] {
            #expect(try a.search(centre, k: k) == (try b.search(centre, k: k)))
        }
        // After removals (rows move in both copies) the results still agree.
        for i in stride(from: 0, to: 3_000, by: 3) { a.remove(id: "tie\(i)"); b.remove(id: "tie\(i)") }
        #expect(try a.search(centre, k: 50) == (try b.search(centre, k: 50)))
    }

    @Test("a loaded gallery rebuilds its binary16 copy")
    func loaded() throws {
        let (twoPass, onePass) = Self.tunings()
        let path = "/tmp/argus-twopass-\(UInt32.random(in: 0...UInt32.max)).gallery"
        defer { unlink(path) }
        let entries = Reference.randomVectors(2_000, dimension: 32, seed: 8).enumerated().map { (id: "x\($0.offset)", template: $0.element) }
        let g = Gallery(dimension: 32, tuning: onePass)
        try g.add(entries)
        try g.save(to: path)
        let loaded = try Gallery.load(from: path, tuning: twoPass)
        let q = Reference.randomVectors(1, dimension: 32, seed: 9)[0]
        #expect(try loaded.search(q, k: 20) == (try g.search(q, k: 20)))
    }
}
