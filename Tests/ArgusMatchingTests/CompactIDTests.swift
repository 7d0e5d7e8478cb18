import Testing
@testable import ArgusMatching

/// Ids held inline (24 bytes) or interned when longer, and the subject numbering behind
/// `SubjectIndex`: what a million-face gallery saves must not change a single answer.
@Suite("Compact ids: inline, interned, and reused subject numbers")
struct CompactIDTests {
    @Test("ids up to 23 bytes are held in place, longer ones interned; both come back as they were")
    func roundTrip() throws {
        var names = IDNames()
        let short = ["", "a", "face_0123456789ABCDEFGH", "sub_0123456789ABCDEFGH", "ünïcødé"]
        let long = ["face_0123456789ABCDEFGHI", String(repeating: "x", count: 300)]
        for id in short {
            let found = names.key(id, inserting: false)
            let key = try #require(found)
            #expect(key.internedNumber == nil)
            #expect(names.string(key) == id)
        }
        for id in long {
            let absent = names.key(id, inserting: false)
            #expect(absent == nil)
            let interned = names.key(id, inserting: true)
            let key = try #require(interned)
            #expect(key.internedNumber != nil)
            #expect(names.string(key) == id)
            #expect(names.existingKey(id) == key)
        }
        // A 23-byte id and an interned one never share a key, nor do two interned ids.
        #expect(names.existingKey(long[0]) != names.existingKey(long[1]))
        #expect(InlineID(inline: short[2]) != names.existingKey(long[0]))
    }

    @Test("the id map mirrors swap-with-last removal, long ids included")
    func idMap() {
        var map = IDMap()
        let ids = (0..<50).map { $0 % 3 == 0 ? "long-id-\($0)-" + String(repeating: "z", count: 30) : "id\($0)" }
        var fresh = 0
        for id in ids where map.insert(id) { fresh += 1 }
        #expect(fresh == 50)
        let again = [map.insert(ids[7]), map.insert(ids[9])]
        #expect(again == [false, false])
        #expect(map.count == 50)
        let removed = map.remove(ids[4])
        #expect(removed == 4)
        #expect(map.id(ofRow: 4) == ids[49])
        #expect(map.row(of: ids[49]) == 4)
        #expect(map.row(of: ids[4]) == nil)
        let twice = map.remove(ids[4])
        #expect(twice == nil)
        map.shrinkToFit()
        #expect(map.count == 49)
        #expect(Set(map.rowToID) == Set(ids).subtracting([ids[4]]))
        for id in map.rowToID { #expect(map.id(ofRow: map.row(of: id) ?? -1) == id) }
    }

    @Test("a subject number freed by its last face is reused without naming the wrong subject")
    func reusedOrdinals() throws {
        let index = SubjectIndex(dimension: 32)
        let probe = SubjectIndexTests.unit(0)
        try index.add([("f1", "alice", probe), ("f2", "bob", SubjectIndexTests.unit(2))])
        index.remove(faces: ["f1"])
        #expect(index.subject(ofFace: "f1") == nil)
        #expect(try index.search(probe, limit: 5, among: ["alice"]).isEmpty)
        // carol takes alice's number.
        let long = "carol-" + String(repeating: "c", count: 40)
        try index.add([("f3", long, probe)])
        let top = try index.search(probe, limit: 2)
        #expect(top.count == 2)
        #expect(top.first?.subject == long)
        #expect(top.first.map { abs($0.score - 1) < 1e-5 } == true)
        #expect(!top.map(\.subject).contains("alice"))
        #expect(index.subject(ofFace: "f3") == long)
        #expect(try index.search(probe, limit: 5, excluding: long).map(\.subject) == ["bob"])
        #expect(index.count == 2)
    }

    @Test("a face id is unique across partitions; a refused batch changes nothing")
    func duplicateAcrossPartitions() throws {
        let index = SubjectIndex(dimension: 32)
        try index.add([("f1", "s1", SubjectIndexTests.unit(1))], partition: "a")
        #expect(throws: MatchingError.duplicateID("f1")) {
            try index.add([("f9", "s9", SubjectIndexTests.unit(9)), ("f1", "s2", SubjectIndexTests.unit(2))], partition: "b")
        }
        #expect(throws: MatchingError.duplicateID("f5")) {
            try index.add([("f5", "s5", SubjectIndexTests.unit(5)), ("f5", "s6", SubjectIndexTests.unit(6))], partition: "a")
        }
        #expect(index.count == 1)
        #expect(index.count(in: ["a"]) == 1)
        #expect(index.count(in: ["b"]) == 0)
        #expect(index.subject(ofFace: "f9") == nil)
        #expect(index.subject(ofFace: "f5") == nil)
        #expect(index.subject(ofFace: "f1") == "s1")
    }

    @Test("contiguous rows: a row not of unit length is normalised, a bad one refuses the batch")
    func contiguousRows() throws {
        let gallery = Gallery(dimension: 4)
        let rows: [Float] = [1, 0, 0, 0, 0, 3, 0, 4, 0, 0, 2, 0]
        try rows.withUnsafeBufferPointer { try gallery.add(ids: ["a", "b", "c"], rows: $0) }
        #expect(gallery.template(for: "b") == [0, 0.6, 0, 0.8])
        #expect(gallery.template(for: "c") == [0, 0, 1, 0])
        let bad: [Float] = [1, 0, 0, 0, .nan, 0, 0, 0]
        #expect(throws: MatchingError.nonFinite) { try bad.withUnsafeBufferPointer { try gallery.add(ids: ["d", "e"], rows: $0) } }
        #expect(throws: MatchingError.self) { try rows.withUnsafeBufferPointer { try gallery.add(ids: ["f", "g"], rows: $0) } }
        #expect(gallery.count == 3)
        #expect(!gallery.contains("d") && !gallery.contains("f"))
    }
}
