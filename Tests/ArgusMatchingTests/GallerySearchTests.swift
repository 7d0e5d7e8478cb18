import Testing
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
