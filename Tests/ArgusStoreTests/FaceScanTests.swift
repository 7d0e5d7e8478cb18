import ArgusStore
import Foundation
import Synchronization
import Testing

/// The full-load scan a start-up uses (`forEachFaceBatch`), the counts that size it, and the ids
/// that sort by time.
@Suite("Store: the batched face scan and sortable ids")
struct FaceScanTests {
    static func face(_ subject: String, gallery: String = "default", seed: Int) -> NewFace {
        NewFace(subject: .external(subject, createIfMissing: true), gallery: gallery, template: StoreTests.template(seed), box: [0, 0, 1, 1],
                quality: .unmeasured, imageSHA256: "digest-\(seed)")
    }

    @Test("batches bring every server-custody face once, in write order, with contiguous templates and owner runs")
    func batches() throws {
        let dir = try StoreTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        let tenant = store.defaultTenantID
        var written: [String: [Float]] = [:]
        var order: [String] = []
        for (i, gallery) in ["default", "default", "vip", "default", "vip"].enumerated() {
            let faces = (0..<7).map { Self.face("s\(i)-\($0)", gallery: gallery, seed: i * 10 + $0) }
            let writes = try store.writeFaces(faces, tenant: tenant, mode: .test, spending: nil)
            #expect(writes.count == faces.count)
            for (w, f) in zip(writes, faces) {
                written[w.faceID] = f.template
                order.append(w.faceID)
            }
        }
        _ = try store.writeFaces([Self.face("live-1", seed: 99)], tenant: tenant, mode: .live, spending: nil)

        var seen: [String] = []
        var batches = 0
        try store.forEachFaceBatch(tenant: tenant, mode: .test, batch: 4, digests: true) { batch in
            batches += 1
            #expect(batch.count <= 4 && batch.count > 0)
            #expect(batch.dimension == 128)
            #expect(batch.templates.count == batch.count * 128)
            #expect(batch.runs.reduce(0) { $0 + $1.faces.count } == batch.count)
            for run in batch.runs {
                #expect(run.mode == .test && run.tenant == tenant)
                for i in run.faces {
                    seen.append(batch.faceIDs[i])
                    #expect(Array(batch.template(i)) == written[batch.faceIDs[i]])
                    #expect(batch.imageSHA256s[i]?.hasPrefix("digest-") == true)
                }
            }
        }
        #expect(seen == order)
        #expect(batches == (order.count + 3) / 4)

        let counts = try store.faceCounts().filter { $0.tenant == tenant }
        #expect(counts.count == 3)
        #expect(counts.first { $0.mode == .test && $0.gallery == "default" }?.faces == 21)
        #expect(counts.first { $0.mode == .test && $0.gallery == "vip" }?.faces == 14)
        #expect(counts.first { $0.mode == .live }?.faces == 1)
    }

    @Test("a consumer that stops early stops the reader, and a failure comes out as thrown")
    func earlyStop() throws {
        struct Stop: Error {}
        let dir = try StoreTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        _ = try store.writeFaces((0..<50).map { Self.face("s\($0)", seed: $0) }, tenant: store.defaultTenantID, mode: .test, spending: nil)
        var calls = 0
        #expect(throws: Stop.self) {
            try store.forEachFaceBatch(tenant: nil, mode: nil, batch: 2, digests: false) { _ in
                calls += 1
                if calls == 3 { throw Stop() }
            }
        }
        #expect(calls == 3)
        // The store is usable after: the reader gave its connection back.
        var total = 0
        try store.forEachFaceBatch(tenant: nil, mode: nil, batch: 16, digests: false) { total += $0.count }
        #expect(total == 50)
    }

    @Test("face and subject ids sort by creation time, 18 base62 characters after the prefix")
    func sortableIDs() throws {
        let earlier = Secrets.sortableIdentifiers("face", count: 500, now: Date(timeIntervalSince1970: 1_800_000_000))
        let later = Secrets.sortableIdentifiers("face", count: 500, now: Date(timeIntervalSince1970: 1_800_000_000.002))
        #expect(Set(earlier + later).count == 1000)
        let maximum = try #require(earlier.max())
        let minimum = try #require(later.min())
        #expect(maximum < minimum)
        for id in earlier + later {
            #expect(id.hasPrefix("face_") && id.utf8.count == 23)
            #expect(id.dropFirst(5).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        }
        // The short base62 path agrees with the general one.
        for n in [1, 7, 12, 13, 15] {
            for _ in 0..<50 {
                let bytes = (0..<n).map { _ in UInt8.random(in: 0...255) }
                let padded = [UInt8](repeating: 0, count: 17 - n) + bytes  // 17 bytes: the general path
                let general = Secrets.base62(padded)
                let short = Secrets.base62(bytes)
                #expect(general.hasSuffix(short))
                #expect(general.dropLast(short.count).allSatisfy { $0 == "0" })
            }
        }
        let dir = try StoreTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(dataDirectory: dir, environment: [:])
        let a = try store.createSubject(tenant: store.defaultTenantID, mode: .test, externalID: nil, custody: .server)
        Thread.sleep(forTimeInterval: 0.003)
        let b = try store.createSubject(tenant: store.defaultTenantID, mode: .test, externalID: nil, custody: .server)
        #expect(a.id.hasPrefix("sub_") && a.id < b.id)
    }
}
