import ArgumentParser
import ArgusService
import Foundation

/// `argus bench seed`: synthetic subjects for load tests.
struct BenchSeed: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Add N synthetic subjects (random templates) to a store, for load tests.")
    @OptionGroup var store: StoreOptions
    @Option var count: Int = 10_000

    func run() throws {
        let db = try ArgusStore(dataDirectory: store.dataDir)
        try db.seedSyntheticSubjects(count: count, dimension: 128)
        print("seeded \(count) synthetic subjects into \(db.path)")
    }
}
