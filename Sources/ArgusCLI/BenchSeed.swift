import ArgumentParser
import ArgusEnrollment
import ArgusStore
import Foundation

/// `argus bench seed`: synthetic subjects for load tests, written through the one enrolment path.
struct BenchSeed: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Add N synthetic subjects (random templates) to a store, for load tests.")
    @OptionGroup var store: StoreOptions
    @Option var count: Int = 10_000
    @Option(help: "Template dimension.") var dim: Int = 128
    @Option(help: "Faces per transaction.") var batch: Int = 4_096
    @Option(help: "Seed of the synthetic templates (the same seed, the same templates).") var seed: UInt64 = 1

    func run() throws {
        guard count >= 0, dim > 0, batch > 0 else { throw ValidationError("--count ≥ 0, --dim > 0 and --batch > 0") }
        let environment = ProcessInfo.processInfo.environment
        if let url = store.store ?? environment["ARGUS_STORE"] {
            // Running nodes follow the face log: they see the new faces as they are written.
            let db = try PostgresStore(url: url, environment: environment, connections: 2)
            let started = ContinuousClock.now
            try seed(into: db, tenant: db.defaultTenantID)
            print("seeded \(count) synthetic subjects into \(db.location) in \(Self.seconds(ContinuousClock.now - started))")
            return
        }
        // A running server would not see the new faces in its in-memory galleries.
        let lock = try StoreLock(dataDirectory: store.dataDir)
        defer { withExtendedLifetime(lock) {} }
        let db = try SQLiteStore(dataDirectory: store.dataDir, environment: environment, writerCache: .bulkLoad)
        let started = ContinuousClock.now
        try seed(into: db, tenant: db.defaultTenantID)
        // A start-up then reads one sealed file instead of stepping every row (see `GallerySnapshot`).
        let seeded = ContinuousClock.now
        let snapshot = try db.writeGallerySnapshot()
        print("seeded \(count) synthetic subjects into \(db.path) in \(Self.seconds(seeded - started)); gallery snapshot of "
              + "\(snapshot.faces) faces (\(snapshot.bytes / 1_000_000) MB) in \(Self.seconds(ContinuousClock.now - seeded))")
    }

    static func seconds(_ d: Duration) -> String {
        String(format: "%.1f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    /// Synthetic faces through the one enrolment path, `batch` per transaction.
    private func seed(into db: any Store, tenant: String) throws {
        let enroller = Enroller(store: db, galleries: nil)
        // Synthetic data needs no cryptographic randomness: a seeded generator (the system one makes a
        // syscall per draw, which was the largest single cost of seeding).
        var rng = BenchRandom(seed: seed)
        var written = 0
        while written < count {
            let n = min(batch, count - written)
            let faces = (0..<n).map { i -> NewFace in
                var t = rng.vector(dim)
                let norm = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
                t = t.map { $0 / norm }
                return NewFace(subject: .external("synthetic-\(written + i)", createIfMissing: true), template: t, box: [0, 0, 0, 0],
                               quality: .unmeasured, imageSHA256: nil)
            }
            _ = try enroller.commit(faces, tenant: tenant, mode: .test)
            written += n
        }
    }
}

