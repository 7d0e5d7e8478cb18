import ArgusFace
import ArgusImaging
public import Foundation

/// Photo bytes → the face to use, on the analysis executor, with the pipeline's refusals as 422
/// errors and the executor's as 503 `overloaded`.
struct FaceAnalysisService: Sendable {
    let pipeline: FacePipeline
    let decoder: ImageDecoder
    let executor: AnalysisExecutor
    /// Chips of concurrent requests embedded together.
    let embeddings: EmbeddingLane

    init(pipeline: FacePipeline, configuration: ServiceConfiguration) {
        // One photo per analysis thread, each on one core: throughput without oversubscription.
        var options = pipeline.options
        options.threads = 1
        self.pipeline = pipeline.with(options: options)
        decoder = ImageDecoder(options: .init(maxPixels: configuration.maxImagePixels))
        let threads = configuration.analysisThreads > 0 ? configuration.analysisThreads : ProcessInfo.processInfo.activeProcessorCount
        let queue = configuration.analysisQueueLimit > 0 ? configuration.analysisQueueLimit : 8 * threads
        executor = AnalysisExecutor(threads: threads, queueLimit: queue,
                                    deadline: .milliseconds(configuration.analysisDeadlineMilliseconds))
        embeddings = EmbeddingLane(embedder: pipeline.embedder, executor: executor, maxBatch: configuration.embeddingBatch,
                                   maxWait: .milliseconds(configuration.embeddingWaitMilliseconds))
    }

    /// Refuses at once (503 `overloaded`, before the body is read or anything is spent) when the
    /// analysis queue is full; a request admitted here may still be refused by the executor if
    /// others filled the queue meanwhile.
    func admit() throws {
        if executor.isFull { throw APIError.overloaded }
    }

    var isFull: Bool { executor.isFull }

    /// The face to enrol under `policy`.
    func enrollmentFace(from bytes: [UInt8], policy: FacePipeline.EnrollmentPolicy = .single, minFaceSize: Int? = nil) async throws -> FaceRecord {
        var chosen = pipeline
        if let minFaceSize {
            var options = pipeline.options
            options.quality.minFaceSize = minFaceSize
            chosen = pipeline.with(options: options)
        }
        let candidate = try await onExecutor { [chosen, decoder] in try chosen.enrollmentCandidate(try Self.decode(bytes, decoder), policy: policy) }
        return try await embedded(candidate)
    }

    /// A search probe: the largest face whatever its quality, and the number of faces found.
    func probe(from bytes: [UInt8]) async throws -> (face: FaceRecord, faces: Int) {
        let candidate = try await onExecutor { [pipeline, decoder] in try pipeline.probeCandidate(try Self.decode(bytes, decoder)) }
        return (try await embedded(candidate), candidate.faces)
    }

    /// The chosen face with its descriptor, computed with other requests' chips when they wait too.
    private func embedded(_ candidate: FacePipeline.ChosenFace) async throws -> FaceRecord {
        var record = candidate.record
        do {
            record.descriptor = try await embeddings.descriptor(for: candidate.chip)
        } catch let error as FaceAnalysisError {
            throw Self.map(error)
        } catch is AnalysisExecutor.Refusal {
            throw APIError.overloaded
        }
        return record
    }

    private func onExecutor<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await executor.run {
                do { return try work() } catch let error as FaceAnalysisError { throw Self.map(error) }
            }
        } catch let refusal as AnalysisExecutor.Refusal {
            switch refusal {
            case .overloaded, .deadlineExceeded: throw APIError.overloaded
            case .cancelled: throw CancellationError()
            }
        }
    }

    private static func decode(_ bytes: [UInt8], _ decoder: ImageDecoder) throws -> RGBImage {
        do {
            return try decoder.decode(bytes)
        } catch {
            throw APIError.face("invalid_image", "The image could not be decoded: \(error)")
        }
    }

    static func map(_ error: FaceAnalysisError) -> any Error {
        switch error {
        case .noFace: return APIError.face("no_face", "No face was found in the image")
        case .multipleFaces(let n): return APIError.face("multiple_faces", "\(n) faces were found; exactly one is needed (send largest_face=true to take the largest)")
        case .lowQuality(let reasons):
            return APIError.face("low_quality", "Face quality too low: " + reasons.map(\.rawValue).joined(separator: ", "))
        case .image(let e): return APIError.face("invalid_image", "The image could not be decoded: \(e)")
        default: return error
        }
    }
}
