import ArgumentParser
import ArgusService
import Foundation
import Hummingbird
import Logging

extension Argus {
    /// `argus serve`: the ABIS HTTP API on the embedded store.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the ABIS HTTP API (enrol, verify, identify, keys, sessions) on an embedded SQLite store, or as one of several nodes on PostgreSQL.",
            discussion: "Flags override ARGUS_* environment variables, which override --config (JSON). On the very first start of a data directory a test-mode secret key is printed, once."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
        @Option(help: "Port (default 8080).") var port: Int?
        @Option(help: "Data directory (default ./data).") var dataDir: String?
        @Option(help: "A PostgreSQL store shared with other nodes, postgres://USER@HOST:PORT/DB (default: ARGUS_STORE; none: the embedded store in --data-dir). Needs ARGUS_MASTER_KEY.") var store: String?
        @Option(help: "A JSON file with ServiceConfiguration fields.") var config: String?
        @Option(help: "Largest request body in bytes.") var maxBodyBytes: Int?
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
        @Option(help: "Analysis threads (default: one per core).") var analysisThreads: Int?
        @Option(help: "Analysis jobs that may wait for a thread; beyond them 503 overloaded (default: 8 per thread).") var analysisQueue: Int?
        @Option(help: "Milliseconds a job may wait for a thread before it is refused with 503 (default 10000).") var analysisDeadline: Int?
        @Option(help: "Chips of concurrent requests embedded together, at most (default 4; 1: each alone).") var embeddingBatch: Int?
        @Option(help: "Milliseconds a chip may wait for others while photos are queued (default 250).") var embeddingWait: Int?
        @Flag(help: "Let anyone sign up in the console (default: by invitation only).") var openSignup = false
        @Flag(help: "Allow webhook endpoints on private and loopback addresses.") var allowPrivateWebhooks = false

        func run() async throws {
            ProcessMemory.fixAllocatorThreshold()
            var configuration = ServiceConfiguration()
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read \(config)") }
                configuration = try JSONDecoder().decode(ServiceConfiguration.self, from: data)
            }
            let env = ProcessInfo.processInfo.environment
            if let v = env["ARGUS_HOST"] { configuration.host = v }
            if let v = env["ARGUS_PORT"].flatMap(Int.init) { configuration.port = v }
            if let v = env["ARGUS_DATA_DIR"] { configuration.dataDirectory = v }
            if let v = env["ARGUS_STORE"], !v.isEmpty { configuration.store = v }
            if let v = env["ARGUS_MAX_BODY_BYTES"].flatMap(Int.init) { configuration.maxBodyBytes = v }
            configuration.modelsDirectory = global.modelDirectory.path
            if let host { configuration.host = host }
            if let port { configuration.port = port }
            if let dataDir { configuration.dataDirectory = dataDir }
            if let store { configuration.store = store }
            if let maxBodyBytes { configuration.maxBodyBytes = maxBodyBytes }
            if let v = env["ARGUS_ANALYSIS_THREADS"].flatMap(Int.init) { configuration.analysisThreads = v }
            if let v = env["ARGUS_ANALYSIS_QUEUE"].flatMap(Int.init) { configuration.analysisQueueLimit = v }
            if let v = env["ARGUS_ANALYSIS_DEADLINE_MS"].flatMap(Int.init) { configuration.analysisDeadlineMilliseconds = v }
            if let analysisThreads { configuration.analysisThreads = analysisThreads }
            if let analysisQueue { configuration.analysisQueueLimit = analysisQueue }
            if let analysisDeadline { configuration.analysisDeadlineMilliseconds = analysisDeadline }
            if let v = env["ARGUS_EMBEDDING_BATCH"].flatMap(Int.init) { configuration.embeddingBatch = v }
            if let v = env["ARGUS_EMBEDDING_WAIT_MS"].flatMap(Int.init) { configuration.embeddingWaitMilliseconds = v }
            if let embeddingBatch { configuration.embeddingBatch = embeddingBatch }
            if let embeddingWait { configuration.embeddingWaitMilliseconds = embeddingWait }
            if openSignup { configuration.openSignup = true }
            if allowPrivateWebhooks { configuration.allowPrivateWebhooks = true }

            var logger = Logger(label: "argus")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let runtime: ArgusServiceRuntime
            do {
                runtime = try await ArgusServiceRuntime.open(configuration, logger: logger)
            } catch {
                printError("argus serve: \(error)")
                throw ExitCode.failure
            }
            if let key = runtime.firstKey {
                FileHandle.standardOutput.write(Data("""

                  First start of \(configuration.store.map { _ in runtime.store.location } ?? configuration.dataDirectory): your test-mode secret key (shown once, stored only as a hash):

                      \(key)

                  Try: curl -H "Authorization: Bearer \(key)" http://\(configuration.host):\(configuration.port)/v1/ping

                  Web console: sign up your organisation with this invitation (one use, valid 7 days):

                      http://\(configuration.host):\(configuration.port)/console/signup?invite=\(runtime.firstSignupInvite ?? "")

                """.utf8))
            }
            logger.info("argus serving", metadata: ["address": "\(configuration.host):\(configuration.port)"])
            try await runtime.buildApplication(logger: logger).runService()
        }
    }
}
