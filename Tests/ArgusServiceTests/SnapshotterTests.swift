import ArgusStore
import Foundation
import Testing
@testable import ArgusService

/// The server keeps the gallery snapshot fresh: removed faces leave it within an interval.
@Suite("Gallery snapshotter", .enabled(if: !ServiceHarness.onPostgres, "the embedded store's snapshot"))
struct SnapshotterTests {
    static func face(_ subject: String, _ seed: Int) -> NewFace {
        var t = (0..<128).map { Float(sin(Double(seed * 131 + $0))) }
        let norm = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
        t = t.map { $0 / norm }
        return NewFace(subject: .external(subject, createIfMissing: true), template: t, box: [0, 0, 1, 1], quality: .unmeasured, imageSHA256: "d\(seed)")
    }

    @Test("after a face is removed the snapshot is rewritten without it, and the log is pruned", .timeLimit(.minutes(2)))
    func rewritesAfterRemoval() async throws {
        try await ServiceHarness.withRouter(tweak: { $0.gallerySnapshotInterval = 0.2 }) { runtime, _ in
            let store = try #require(runtime.store as? SQLiteStore)
            let tenant = store.defaultTenantID
            let writes = try store.writeFaces((0..<3).map { Self.face("s\($0)", $0) }, tenant: tenant, mode: .test, spending: nil)
            #expect(writes.count == 3)
            // Additions alone, below the threshold (10,000 entries): no snapshot yet.
            try await Task.sleep(for: .milliseconds(600))
            #expect(try store.faceLogSinceSnapshot() == (3, 0))
            #expect(try store.deleteFace(tenant: tenant, mode: .test, subject: writes[0].subjectID, face: writes[0].faceID))
            // Within a few intervals a snapshot holds the two faces left, and nothing is left after it.
            var since = try store.faceLogSinceSnapshot()
            while since != (0, 0) {
                try await Task.sleep(for: .milliseconds(100))
                since = try store.faceLogSinceSnapshot()
            }
            var loaded: [String] = []
            try store.forEachFaceBatch(tenant: tenant, mode: .test, batch: 16, digests: false) { loaded += $0.faceIDs }
            #expect(Set(loaded) == Set(writes[1...].map(\.faceID)))
            #expect(store.lastFaceScan == FaceScanReport(source: .snapshot, snapshotFaces: 2, storeFaces: 0, note: nil))
        }
    }
}
