import ArgumentParser
import ArgusFace
import ArgusJobs
import ArgusStore
import Foundation

/// Set by SIGINT: the enrolment stops taking photos and commits what is in flight.
let enrollmentStop = StopFlag()

extension Argus {
    /// `argus enroll DIR`: batch enrolment from a directory or a manifest.
    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol photos in bulk: DIR/<subject>/*.{jpg,jpeg,png}, or --manifest FILE.csv (path,subject).",
            discussion: """
            Resumable: photos are keyed by the SHA-256 of their bytes, and a re-run skips what is enrolled. \
            Ctrl-C stops after committing what is in flight. Exit status 0 when the run completed, whatever the per-photo outcomes.
            """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Directory of subject folders (or the base for relative manifest paths).") var directory: String?
        @Option(help: "CSV manifest: path,subject per line.") var manifest: String?
        @Option(help: "The store of `argus serve` (refused while the server holds it).") var dataDir: String?
        @Option(help: "A running server instead of a store (key from ARGUS_API_KEY).") var server: String?
        @Option(help: "JSON Lines report, one line per photo.") var report: String?
        @Flag(help: "Take the largest face instead of refusing photos with several.") var largestFace = false
        @Flag(help: "Flag enrolments whose best match in another subject is above the 1:N threshold.") var dedup = false
        @Option(help: "Minimum face box width in pixels.") var minFaceSize: Int?
        @Option(help: "Photos analysed in parallel (default: one per core), or uploads in flight with --server (default 4).") var jobs: Int?
        @Flag(help: "No progress display.") var quiet = false

        func validate() throws {
            guard directory != nil || manifest != nil else { throw ValidationError("give DIR or --manifest FILE.csv") }
            guard (dataDir == nil) != (server == nil) else { throw ValidationError("give exactly one of --data-dir and --server") }
        }

        func run() throws {
            // From the first moment: a Ctrl-C while the models load must not kill the process either.
            signal(SIGINT, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            source.setEventHandler {
                enrollmentStop.set()
                FileHandle.standardError.write(Data("\ninterrupted: finishing the photos in flight…\n".utf8))
            }
            source.resume()
            defer { source.cancel() }
            let items: [EnrollmentItem]
            do {
                items = try manifest.map { try EnrollmentInput.manifest($0, base: directory) } ?? EnrollmentInput.scan(directory: directory ?? ".")
            } catch {
                printError("argus enroll: \(error)")
                throw ExitCode.failure
            }
            if let server {
                try ServerEnrollment(server: server, items: items, report: report, largestFace: largestFace, dedup: dedup,
                                     minFaceSize: minFaceSize, jobs: max(1, jobs ?? 4), progress: !quiet).run(stop: enrollmentStop)
                return
            }
            guard let dataDir else { return }
            let lock: StoreLock
            do { lock = try StoreLock(dataDirectory: dataDir) } catch {
                printError("argus enroll: \(error)")
                throw ExitCode.failure
            }
            defer { withExtendedLifetime(lock) {} }
            var pipelineOptions = FacePipeline.Options()
            if let minFaceSize { pipelineOptions.quality.minFaceSize = minFaceSize }
            let pipeline: FacePipeline
            let store: SQLiteStore
            do {
                pipeline = try FacePipeline(models: global.modelDirectory, options: pipelineOptions)
                store = try SQLiteStore(dataDirectory: dataDir, environment: ProcessInfo.processInfo.environment, writerCache: .bulkLoad)
            } catch {
                printError("argus enroll: \(error)")
                throw ExitCode.failure
            }
            var options = BatchEnroller.Options()
            options.policy = largestFace ? .largest : .single
            options.dedup = dedup
            options.reportPath = report
            if let jobs { options.jobs = max(1, jobs) }


            let summary = try BatchEnroller(pipeline: pipeline, store: store, options: options).run(items, stop: enrollmentStop, progress: !quiet)
            let counts = EnrollmentOutcome.Kind.allCases.compactMap { k in summary.counts[k].map { "\(k.rawValue) \($0)" } }.joined(separator: ", ")
            print(String(format: "%d of %d photos in %.1f s (%.1f analysed/s, CPU %.0f%% of %d cores): %@", summary.total, items.count,
                         summary.seconds, summary.analysedPerSecond, 100 * summary.cpuSeconds / max(0.001, summary.seconds) / Double(ProcessInfo.processInfo.activeProcessorCount),
                         ProcessInfo.processInfo.activeProcessorCount, counts))
            if summary.interrupted {
                print("interrupted: run the same command again to continue")
                throw ExitCode(130)
            }
        }
    }
}
