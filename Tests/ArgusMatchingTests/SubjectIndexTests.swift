import Testing
@testable import ArgusMatching

/// The one subject search: best face per subject, exact subsets, exclusion, partitions.
@Suite("SubjectIndex: subjects ranked by their best face")
struct SubjectIndexTests {
    static func unit(_ seed: Int, dimension: Int = 32) -> [Float] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        let raw = (0..<dimension).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Int(state % 2001) - 1000) / 1000
        }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { $0 / norm }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test("a subset is searched exactly, however low its members rank in the whole gallery")
    func exactSubset() throws {
        let index = SubjectIndex(dimension: 32)
        let probe = Self.unit(0)
        var faces: [(face: String, subject: String, template: [Float])] = []
        for i in 1...2000 { faces.append(("f\(i)", "s\(i % 500)", Self.unit(i))) }
        try index.add(faces)
        // The subject whose best face ranks lowest of all 500.
        var best: [String: Float] = [:]
        for f in faces { best[f.subject] = max(best[f.subject] ?? -2, Self.cosine(probe, f.template)) }
        let worst = try #require(best.min { $0.value < $1.value })
        let found = try index.search(probe, limit: 5, among: [worst.key])
        #expect(found.count == 1)
        #expect(found.first?.subject == worst.key)
        #expect(abs((found.first?.score ?? 9) - worst.value) < 1e-5)
        #expect(try index.score(probe, subject: worst.key).map { abs($0 - worst.value) < 1e-5 } == true)
        // The whole ranking equals a brute force over subjects.
        let ranked = try index.search(probe, limit: 20)
        let expected = best.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(20).map(\.key)
        #expect(ranked.map(\.subject) == Array(expected))
    }

    @Test("many faces of one subject count once; excluding, minScore, partitions and removal")
    func aggregation() throws {
        let index = SubjectIndex(dimension: 32)
        let probe = Self.unit(0)
        // Subject a holds ten near-copies of the probe: without aggregation they would fill the top 10.
        for i in 0..<10 {
            var t = probe
            t[i] += 0.01
            try index.add(face: "a\(i)", subject: "a", template: t, partition: i % 2 == 0 ? "north" : "south")
        }
        for i in 0..<50 { try index.add(face: "o\(i)", subject: "o\(i)", template: Self.unit(100 + i), partition: "north") }
        let top = try index.search(probe, limit: 3)
        #expect(top.count == 3 && top.first?.subject == "a" && Set(top.map(\.subject)).count == 3)
        #expect(try index.search(probe, limit: 3, excluding: "a").allSatisfy { $0.subject != "a" } && index.count == 60)
        #expect(try index.search(probe, limit: 100, minScore: 0.9).map(\.subject) == ["a"])
        #expect(try index.search(probe, limit: 100, in: ["south"]).map(\.subject) == ["a"])
        #expect(try index.search(probe, limit: 100, in: ["nowhere"]).isEmpty && !index.contains(partition: "nowhere"))
        index.remove(faces: (0..<10).map { "a\($0)" })
        #expect(try index.search(probe, limit: 100).allSatisfy { $0.subject != "a" } && index.count == 50)
        #expect(try index.score(probe, subject: "a") == nil)
    }

    @Test("unit-length templates are stored bit for bit (normalised once, where they are made)")
    func normalisedOnce() throws {
        let t = Self.unit(3)
        let g = Gallery(dimension: 32)
        try g.add(id: "x", template: t)
        #expect(g.template(for: "x") == t)
    }
}
