public import ArgusFace
import ArgusImaging
import ArgusMatching
public import ArgusService
import Crypto
public import Foundation
import Glibc
public import Synchronization

/// Enrols a list of photos into the store: `jobs` workers analyse photos in parallel (one photo per
/// core, so both cores stay busy without synchronising inside each network pass), and one committer
/// writes the results strictly in input order, one transaction per face. A kill at any moment leaves
/// a prefix of the ordered commits; a re-run skips committed photos by the SHA-256 of their bytes
/// and ends with exactly the gallery an uninterrupted run gives.
public final class BatchEnroller: Sendable {
    public struct Options: Sendable {
        public var policy: FacePipeline.EnrollmentPolicy = .single
        public var dedup = false
        public var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
        public var reportPath: String?
        /// Photos a worker detects before embedding their chips as one batch.
        public var embedBatch = 4
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
    let writer: EnrollmentWriter
    let options: Options

    public init(pipeline: FacePipeline, writer: EnrollmentWriter, options: Options) {
        var single = pipeline.options
        single.threads = 1
        self.pipeline = pipeline.with(options: single)
        self.writer = writer
        self.options = options
    }

    /// A worker's result for one photo, before it is committed.
    enum Analysis: Sendable {
        case skipped(sha: String)
        case refused(EnrollmentOutcome.Kind, reason: String, sha: String?)
        case face(sha: String, template: [Float], box: [Int], quality: String)
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
        let done = try writer.enrolledImageDigests()
        var dedupGallery: (gallery: Gallery, subjectOfFace: [String: String])?
        if options.dedup { dedupGallery = try writer.loadGallery(dimension: FaceEmbedder.dimension) }
        let report = try ReportWriter(path: options.reportPath)
        let display = ProgressDisplay(total: items.count)
        let slots = Slots()
        let workers = max(1, options.jobs)
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            Thread.detachNewThread { [self] in
                // A few photos at a time, so their chips go through the network as one batch.
                while let range = slots.take(limit: items.count, count: options.embedBatch, stop: stop) {
                    for (i, analysis) in zip(range, analyse(range.map { items[$0] }, done: done)) { slots.put(i, analysis) }
                }
                group.leave()
            }
        }

        var summary = Summary(total: 0)
        var failures = 0, analysed = 0
        for (i, item) in items.enumerated() {
            guard let analysis = slots.wait(i, stop: stop) else { summary.interrupted = true; break }
            var outcome = EnrollmentOutcome(path: item.path, subject: item.subject, kind: .enrolled, reason: "")
            switch analysis {
            case .skipped(let sha):
                outcome.kind = .skippedAlreadyEnrolled
                outcome.reason = "a photo with the same bytes is already enrolled"
                outcome.sha256 = sha
            case .refused(let kind, let reason, let sha):
                outcome.kind = kind
                outcome.reason = reason
                outcome.sha256 = sha
                failures += 1
                analysed += 1
            case .face(let sha, let template, let box, let quality):
                analysed += 1
                outcome.sha256 = sha
                outcome.box = box
                if let d = dedupGallery {
                    let threshold = MatchThresholds.identification(gallerySize: max(1, d.gallery.count))
                    var best: [String: Float] = [:]
                    for m in try d.gallery.search(template, k: 20, minScore: threshold) {
                        guard let other = d.subjectOfFace[m.id], other != item.subject else { continue }
                        best[other] = max(best[other] ?? -1, m.score)
                    }
                    outcome.candidates = best.sorted { $0.value > $1.value }.map { (subject: $0.key, score: $0.value) }
                }
                if let faceID = try writer.enroll(subject: item.subject, template: template, box: box, quality: quality, imageSHA256: sha) {
                    outcome.faceID = faceID
                    if outcome.candidates.isEmpty {
                        outcome.reason = "enrolled"
                    } else {
                        outcome.kind = .duplicateCandidate
                        outcome.reason = "enrolled; matches \(outcome.candidates.count) other subject(s) above the 1:N threshold"
                    }
                    if let d = dedupGallery {
                        try? d.gallery.add(id: faceID, template: template)
                        dedupGallery?.subjectOfFace[faceID] = item.subject
                    }
                } else {
                    outcome.kind = .skippedAlreadyEnrolled
                    outcome.reason = "a photo with the same bytes is already enrolled"
                    outcome.candidates = []
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

    /// Decodes and detects each photo, then embeds all their chips in one network call.
    func analyse(_ batch: [EnrollmentItem], done: Set<String>) -> [Analysis] {
        var results = [Analysis?](repeating: nil, count: batch.count)
        var pending: [(index: Int, sha: String, face: FaceRecord, chip: RGBImage)] = []
        for (n, item) in batch.enumerated() {
            switch prepare(item, done: done) {
            case .ready(let analysis): results[n] = analysis
            case .chip(let sha, let face, let chip): pending.append((n, sha, face, chip))
            }
        }
        if !pending.isEmpty {
            do {
                // One chip per network call: OpenBLAS's sgemm sums in an order that depends on the matrix
                // shape, so a chip's descriptor differs in its last bits with the batch it shares
                // (measured: up to 2e-7), and a resumed run composes its batches differently. Alone,
                // every chip gets the same bits in every run.
                let descriptors = try pending.map { try pipeline.embedder.descriptors(for: [$0.chip], threads: 1)[0] }
                for (p, descriptor) in zip(pending, descriptors) {
                    let q = p.face.quality
                    let quality = String(format: "{\"brightness\":%.1f,\"confidence\":%.4f,\"face_size\":%d,\"sharpness\":%.2f}",
                                         q.brightness, p.face.confidence, q.faceSize, q.sharpness)
                    results[p.index] = .face(sha: p.sha, template: FaceEmbedder.template(from: descriptor),
                                             box: [p.face.box.left, p.face.box.top, p.face.box.right, p.face.box.bottom], quality: quality)
                }
            } catch {
                for p in pending { results[p.index] = .refused(.decodeError, reason: "\(error)", sha: p.sha) }
            }
        }
        return results.map { $0 ?? .refused(.decodeError, reason: "not analysed", sha: nil) }
    }

    enum Prepared {
        case ready(Analysis)
        case chip(sha: String, face: FaceRecord, chip: RGBImage)
    }

    /// Everything before the descriptor: read, hash, skip if enrolled, decode, detect, gate, align.
    func prepare(_ item: EnrollmentItem, done: Set<String>) -> Prepared {
        let bytes: [UInt8]
        do {
            bytes = try ImageDecoder.readFile(item.path)
        } catch {
            return .ready(.refused(.decodeError, reason: "\(error)", sha: nil))
        }
        let sha = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        if done.contains(sha) { return .ready(.skipped(sha: sha)) }
        let image: RGBImage
        do {
            image = try ImageDecoder().decode(bytes)
        } catch {
            return .ready(.refused(.decodeError, reason: "\(error)", sha: sha))
        }
        do {
            let faces = try pipeline.analyze(image, embed: false)
            guard !faces.isEmpty else { return .ready(.refused(.noFace, reason: "no face found", sha: sha)) }
            let chosen: FaceRecord
            switch options.policy {
            case .single:
                guard faces.count == 1 else {
                    return .ready(.refused(.multipleFaces, reason: "\(faces.count) faces found (use --largest-face to take the largest)", sha: sha))
                }
                chosen = faces[0]
            case .largest:
                guard let largest = faces.max(by: { $0.box.area < $1.box.area }) else { return .ready(.refused(.noFace, reason: "no face found", sha: sha)) }
                chosen = largest
            }
            guard chosen.quality.passes else {
                return .ready(.refused(.lowQuality, reason: chosen.quality.reasons.map(\.rawValue).joined(separator: ","), sha: sha))
            }
            return .chip(sha: sha, face: chosen, chip: pipeline.aligner.chip(from: image, landmarks: chosen.landmarks))
        } catch {
            return .ready(.refused(.decodeError, reason: "\(error)", sha: sha))
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
