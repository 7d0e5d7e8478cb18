public import ArgusEnrollment
public import ArgusFace
import ArgusImaging
import ArgusMatching
public import ArgusStore
public import Foundation
import Glibc
public import Synchronization

/// Enrols a list of photos into a store through the one enrolment path (`Enroller`): `jobs`
/// workers analyse photos in parallel (one photo per core, so both cores stay busy without
/// synchronising inside each network pass), and one committer writes the results strictly in
/// input order, one transaction per face. A kill at any moment leaves a prefix of the ordered
/// commits; a re-run skips photos already enrolled on their subject (by the SHA-256 of their
/// bytes) and ends with exactly the gallery an uninterrupted run gives.
public final class BatchEnroller: Sendable {
    public struct Options: Sendable {
        public var policy: FacePipeline.EnrollmentPolicy = .single
        public var dedup = false
        public var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
        public var reportPath: String?
        public var mode: Mode = .test
        /// The tenant (nil: the store's default tenant).
        public var tenant: String?
        public init() {}
    }

    public struct Summary: Sendable {
        public var total = 0
        public var counts: [EnrollmentOutcome.Kind: Int] = [:]
        public var seconds = 0.0
        public var cpuSeconds = 0.0
        public var interrupted = false
        /// Photos analysed (not skipped) per second.
        public var analysedPerSecond: Double {
            let analysed = total - (counts[.skippedAlreadyEnrolled] ?? 0)
            return seconds > 0 ? Double(analysed) / seconds : 0
        }
    }

    let pipeline: FacePipeline
    let store: any Store
    let options: Options
    let tenant: String

    public init(pipeline: FacePipeline, store: any Store, options: Options) {
        var single = pipeline.options
        single.threads = 1
        self.pipeline = pipeline.with(options: single)
        self.store = store
        self.options = options
        tenant = options.tenant ?? store.defaultTenantID
    }

    /// A worker's result for one photo, before it is committed.
    enum Analysis: Sendable {
        case skipped(sha: String)
        case refused(EnrollmentOutcome.Kind, reason: String, sha: String?)
        case face(sha: String, face: FaceRecord)
    }

    /// Results handed from workers to the committer, by input index.
    final class Slots: @unchecked Sendable {
        // @unchecked: every field is read and written under `condition`.
        private let condition = NSCondition()
        private var results: [Int: Analysis] = [:]
        private var next = 0
        private(set) var taken = 0

        /// Up to `count` consecutive indices for one worker.
        func take(limit: Int, count: Int, stop: StopFlag) -> Range<Int>? {
            condition.lock()
            defer { condition.unlock() }
            guard next < limit, !stop.isSet else { return nil }
            let range = next..<min(limit, next + count)
            next = range.upperBound
            taken = next
            return range
        }

        func put(_ index: Int, _ analysis: Analysis) {
            condition.lock()
            results[index] = analysis
            condition.broadcast()
            condition.unlock()
        }

        /// Waits for result `index`; nil once it will never come (not taken before a stop).
        func wait(_ index: Int, stop: StopFlag) -> Analysis? {
            condition.lock()
            defer { condition.unlock() }
            while results[index] == nil {
                // Not taken before the stop: it never will be. Taken: it is in flight, wait for it.
                if index >= taken && stop.isSet { return nil }
                _ = condition.wait(until: Date().addingTimeInterval(0.2))
            }
            return results.removeValue(forKey: index)
        }
    }

    public func run(_ items: [EnrollmentItem], stop: StopFlag, progress: Bool = true) throws -> Summary {
        let started = Date(), cpuStart = Self.cpuSeconds()
        // Dedup searches what is enrolled, so only then is the gallery loaded into memory.
        var galleries: Galleries?
        if options.dedup {
            let g = Galleries(dimension: FaceEmbedder.dimension)
            try g.load(from: store, tenant: tenant, mode: options.mode)
            galleries = g
        }
        let enroller = Enroller(store: store, galleries: galleries)
        let report = try ReportWriter(path: options.reportPath)
        let display = ProgressDisplay(total: items.count)
        let slots = Slots()
        let workers = max(1, options.jobs)
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            Thread.detachNewThread { [self] in
                while let range = slots.take(limit: items.count, count: 1, stop: stop) {
                    for i in range { slots.put(i, analyse(items[i], enroller: enroller)) }
                }
                group.leave()
            }
        }

        var summary = Summary(total: 0)
        var failures = 0, analysed = 0
        var externalIDs: [String: String] = [:]
        for (i, item) in items.enumerated() {
            guard let analysis = slots.wait(i, stop: stop) else { summary.interrupted = true; break }
            var outcome = EnrollmentOutcome(path: item.path, subject: item.subject, kind: .enrolled, reason: "")
            switch analysis {
            case .skipped(let sha):
                outcome.kind = .skippedAlreadyEnrolled
                outcome.reason = "this photo is already enrolled on this subject"
                outcome.sha256 = sha
            case .refused(let kind, let reason, let sha):
                outcome.kind = kind
                outcome.reason = reason
                outcome.sha256 = sha
                failures += 1
                analysed += 1
            case .face(let sha, let face):
                analysed += 1
                outcome.sha256 = sha
                outcome.box = face.boxArray
                let dedup = galleries.map { g in
                    Enroller.Dedup(threshold: MatchThresholds.identification(gallerySize: max(1, g.index(tenant: tenant, mode: options.mode).count)))
                }
                let newFace = try face.newFace(subject: .external(item.subject, createIfMissing: true), imageSHA256: sha)
                guard let committed = try enroller.commit([newFace], tenant: tenant, mode: options.mode, dedup: dedup).first else { continue }
                if committed.write.alreadyEnrolled {
                    outcome.kind = .skippedAlreadyEnrolled
                    outcome.reason = "this photo is already enrolled on this subject"
                } else {
                    outcome.faceID = committed.write.faceID
                    outcome.candidates = try committed.duplicates.map { match in
                        (subject: try externalID(of: match.subject, cache: &externalIDs), score: match.score)
                    }
                    if outcome.candidates.isEmpty {
                        outcome.reason = "enrolled"
                    } else {
                        outcome.kind = .duplicateCandidate
                        outcome.reason = "enrolled; matches \(outcome.candidates.count) other subject(s) above the 1:N threshold"
                    }
                }
            }
            report.write(outcome)
            summary.total += 1
            summary.counts[outcome.kind, default: 0] += 1
            if progress { display.update(done: summary.total, failures: failures, processed: analysed) }
        }
        // In-flight photos were committed above; wait for idle workers before returning.
        group.wait()
        if progress { display.update(done: summary.total, failures: failures, processed: analysed, final: true) }
        summary.seconds = Date().timeIntervalSince(started)
        summary.cpuSeconds = Self.cpuSeconds() - cpuStart
        return summary
    }

    /// Reports name subjects as the input does: by their external id (folder name).
    private func externalID(of subject: String, cache: inout [String: String]) throws -> String {
        if let known = cache[subject] { return known }
        let name = try store.subject(tenant: tenant, mode: options.mode, id: subject)?.externalID ?? subject
        cache[subject] = name
        return name
    }

    /// Everything before the commit: read, hash, skip if enrolled on its subject, decode, detect,
    /// choose, gate, align and embed (one chip per network call, so every run gets the same bits:
    /// OpenBLAS sums in an order that depends on the batch's shape).
    func analyse(_ item: EnrollmentItem, enroller: Enroller) -> Analysis {
        let bytes: [UInt8]
        do {
            bytes = try ImageDecoder.readFile(item.path)
        } catch {
            return .refused(.decodeError, reason: "\(error)", sha: nil)
        }
        let sha = Enroller.digest(bytes)
        do {
            if try enroller.alreadyEnrolled(tenant: tenant, mode: options.mode, subject: .external(item.subject, createIfMissing: false),
                                            imageSHA256: sha) != nil {
                return .skipped(sha: sha)
            }
        } catch {
            return .refused(.decodeError, reason: "\(error)", sha: sha)
        }
        let image: RGBImage
        do {
            image = try ImageDecoder().decode(bytes)
        } catch {
            return .refused(.decodeError, reason: "\(error)", sha: sha)
        }
        do {
            return .face(sha: sha, face: try pipeline.enrollmentFace(image, policy: options.policy))
        } catch .noFace {
            return .refused(.noFace, reason: "no face found", sha: sha)
        } catch .multipleFaces(let n) {
            return .refused(.multipleFaces, reason: "\(n) faces found (use --largest-face to take the largest)", sha: sha)
        } catch .lowQuality(let reasons) {
            return .refused(.lowQuality, reason: reasons.map(\.rawValue).joined(separator: ","), sha: sha)
        } catch {
            return .refused(.decodeError, reason: "\(error)", sha: sha)
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// Set once to ask a running job to stop (from a signal handler's queue); read by its threads.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func set() { flag.store(true, ordering: .relaxed) }
    public var isSet: Bool { flag.load(ordering: .relaxed) }
}
