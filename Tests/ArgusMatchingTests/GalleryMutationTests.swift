import Testing
@testable import ArgusMatching

@Suite("Adding, removing and concurrent use")
struct GalleryMutationTests {
    @Test("bad templates are refused and change nothing")
    func refusals() throws {
        let gallery = Gallery(dimension: 4)
        try gallery.add(id: "a", template: [1, 2, 3, 4])
        #expect(throws: MatchingError.wrongDimension(expected: 4, got: 3)) { try gallery.add(id: "b", template: [1, 2, 3]) }
        #expect(throws: MatchingError.nonFinite) { try gallery.add(id: "b", template: [1, .nan, 3, 4]) }
        #expect(throws: MatchingError.nonFinite) { try gallery.add(id: "b", template: [1, .infinity, 3, 4]) }
        #expect(throws: MatchingError.zeroVector) { try gallery.add(id: "b", template: [0, 0, 0, 0]) }
        #expect(throws: MatchingError.duplicateID("a")) { try gallery.add(id: "a", template: [4, 3, 2, 1]) }
        #expect(throws: MatchingError.invalidK(0)) { try gallery.search([1, 2, 3, 4], k: 0) }
        #expect(throws: MatchingError.nonFinite) { try gallery.search([1, 2, .nan, 4], k: 1) }
        // A batch with one bad entry adds nothing.
        #expect(throws: MatchingError.zeroVector) {
            try gallery.add([(id: "x", template: [1, 1, 1, 1]), (id: "y", template: [0, 0, 0, 0])])
        }
        #expect(throws: MatchingError.duplicateID("a")) {
            try gallery.add([(id: "x", template: [1, 1, 1, 1]), (id: "a", template: [1, 0, 0, 0])])
        }
        #expect(gallery.count == 1 && !gallery.contains("x"))
        #expect(try gallery.search([1, 2, 3, 4], k: 10).map(\.id) == ["a"])
    }

    @Test("templates are stored L2-normalised")
    func normalised() throws {
        let gallery = Gallery(dimension: 2)
        try gallery.add(id: "a", template: [3, 4])
        let t = try #require(gallery.template(for: "a"))
        #expect(abs(t[0] - 0.6) < 1e-7 && abs(t[1] - 0.8) < 1e-7)
    }

    @Test("remove swaps with the last row and search stays exact")
    func removal() throws {
        let vectors = Reference.randomVectors(300, dimension: 16, seed: 21)
        var entries = vectors.enumerated().map { (id: "v\($0.offset)", vector: $0.element) }
        let gallery = Gallery(dimension: 16)
        for e in entries { try gallery.add(id: e.id, template: e.vector) }
        var rng = SeededGenerator(seed: 4)
        for _ in 0..<150 {
            let victim = entries.remove(at: Int.random(in: 0..<entries.count, using: &rng))
            #expect(gallery.remove(id: victim.id))
            #expect(!gallery.contains(victim.id))
        }
        #expect(!gallery.remove(id: "v-unknown"))
        #expect(gallery.count == entries.count)
        #expect(Set(gallery.allIDs) == Set(entries.map(\.id)))
        for q in Reference.randomVectors(5, dimension: 16, seed: 8) {
            let got = try gallery.search(q, k: 20)
            // Ties cannot occur on random data, so insertion order does not matter here.
            #expect(Reference.agrees(got, Reference.bruteForce(query: q, entries: entries), k: 20) == nil)
        }
        for e in entries { gallery.remove(id: e.id) }
        #expect(gallery.count == 0)
        #expect(try gallery.search(vectors[0], k: 3).isEmpty)
        try gallery.add(id: "v0", template: vectors[0])  // ids can be reused after removal
        #expect(try gallery.search(vectors[0], k: 1).first?.id == "v0")
    }

    @Test("concurrent searches, adds and removes keep the gallery consistent")
    func concurrency() async throws {
        let dimension = 32
        let gallery = Gallery(dimension: dimension)
        let base = Reference.randomVectors(2_000, dimension: dimension, seed: 1)
        try gallery.add(base.enumerated().map { (id: "base\($0.offset)", template: $0.element) })
        let extra = Reference.randomVectors(400, dimension: dimension, seed: 2)
        let probes = Reference.randomVectors(20, dimension: dimension, seed: 3)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<2 {  // writers: add then remove their own ids
                group.addTask {
                    for i in stride(from: w, to: extra.count, by: 2) { try gallery.add(id: "extra\(i)", template: extra[i]) }
                    for i in stride(from: w, to: extra.count, by: 2) where i % 4 < 2 { _ = gallery.remove(id: "extra\(i)") }
                }
            }
            for r in 0..<4 {  // readers
                group.addTask {
                    for i in 0..<60 {
                        let q = probes[(i + r) % probes.count]
                        let got = try gallery.search(q, k: 5)
                        #expect(got.count == 5)
                        #expect(zip(got, got.dropFirst()).allSatisfy { $0.score >= $1.score })
                        let batch = try gallery.search(queries: probes[0..<4].flatMap { $0 }, k: 3)
                        #expect(batch.count == 4 && batch.allSatisfy { $0.count == 3 })
                    }
                }
            }
            try await group.waitForAll()
        }
        let remaining = (0..<extra.count).filter { $0 % 4 >= 2 }
        #expect(gallery.count == base.count + remaining.count)
        for i in remaining { #expect(gallery.contains("extra\(i)")) }
        // Every row still answers for its own id.
        for i in remaining.prefix(20) { #expect(try gallery.search(extra[i], k: 1).first?.id == "extra\(i)") }
    }
}
