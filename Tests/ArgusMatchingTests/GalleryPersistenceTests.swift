import Testing
import Foundation
@testable import ArgusMatching

@Suite("Gallery files")
struct GalleryPersistenceTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-gallery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func sample(_ n: Int = 250, dimension: Int = 24) throws -> Gallery {
        let gallery = Gallery(dimension: dimension)
        let vectors = Reference.randomVectors(n, dimension: dimension, seed: 77)
        try gallery.add(vectors.enumerated().map { (id: $0.offset % 3 == 0 ? "ünï-\($0.offset)" : "id\($0.offset)", template: $0.element) })
        gallery.remove(id: "id1")  // a removal before saving moves the last row
        return gallery
    }

    @Test("save and load round-trip ids, templates and search results")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gallery.argus").path
        let gallery = try sample()
        try gallery.save(to: path)
        let loaded = try Gallery.load(from: path)
        #expect(loaded.dimension == gallery.dimension && loaded.count == gallery.count)
        #expect(loaded.allIDs == gallery.allIDs)
        for id in gallery.allIDs { #expect(loaded.template(for: id) == gallery.template(for: id)) }
        let q = Reference.randomVectors(1, dimension: 24, seed: 5)[0]
        #expect(try loaded.search(q, k: 10) == (try gallery.search(q, k: 10)))
        // No temporary files are left behind, and the file is private.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["gallery.argus"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let empty = Gallery(dimension: 8)
        try empty.save(to: path)  // overwrites atomically
        let reloaded = try Gallery.load(from: path)
        #expect(reloaded.count == 0 && reloaded.dimension == 8)
    }

    @Test("truncation at any point is detected")
    func truncation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.argus").path
        try sample(40).save(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir.appendingPathComponent("cut.argus").path
        for length in [0, 4, 8, 20, 31, 32, 100, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: cut))
            do {
                let g = try Gallery.load(from: cut)
                Issue.record("length \(length) loaded \(g.count) templates")
            } catch {
                switch error {
                case .truncated, .notAGalleryFile: break
                default: Issue.record("length \(length): \(error)")
                }
            }
        }
        var longer = bytes
        longer.append(0)
        try longer.write(to: URL(fileURLWithPath: cut))
        #expect(throws: GalleryFileError.self) { try Gallery.load(from: cut) }
    }

    @Test("flipped bits anywhere are detected")
    func corruption() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.argus").path
        try sample(40).save(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let bad = dir.appendingPathComponent("bad.argus").path
        var rng = SeededGenerator(seed: 9)
        var offsets = [0, 8, 12, 16, 24, 33, bytes.count - 1, bytes.count - 200]
        for _ in 0..<40 { offsets.append(Int.random(in: 0..<bytes.count, using: &rng)) }
        for offset in offsets {
            var copy = bytes
            copy[offset] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            try copy.write(to: URL(fileURLWithPath: bad))
            #expect(throws: GalleryFileError.self, "bit flip at \(offset)") { try Gallery.load(from: bad) }
        }
        #expect(throws: GalleryFileError.self) { try Gallery.load(from: dir.appendingPathComponent("missing").path) }
    }
}
