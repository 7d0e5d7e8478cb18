import ArgusNN
public import ArgusImaging
import Foundation

/// One face found in a photo, with what the pipeline measured and computed for it.
public struct FaceRecord: Sendable {
    public var box: Box
    public var confidence: Double
    /// dlib's 5 landmarks, integer pixels in the photo.
    public var landmarks: [Point]
    public var quality: FaceQuality
    /// dlib's raw 128-d descriptor, when embedding was asked for.
    public var descriptor: [Float]?
    /// The descriptor at unit length: what galleries store.
    public var template: [Float]? { descriptor.map(FaceEmbedder.template(from:)) }
}

/// Photo → faces → templates: detection, landmarks, aligned chips, quality, descriptors.
///
/// Large photos: the detector runs on a copy scaled so its longest side is at most
/// `maxDetectionSide`; boxes are scaled back, and landmarks and chips come from the full-resolution
/// photo. Small photos (longest side ≤ `autoUpsampleBelow`) are upsampled once, as
/// face_recognition does for its CNN detector, so that faces of 40–80 px are found.
public final class FacePipeline: Sendable {
    public struct Options: Sendable, Equatable {
        /// Fixed upsampling steps; nil chooses 1 for small photos and 0 otherwise.
        public var upsample: Int?
        public var autoUpsampleBelow: Int = 512
        public var maxDetectionSide: Int = 1600
        public var quality = QualityThresholds()
        /// Cores one call may use (nil: all). Batch jobs run one image per core with 1 each.
        public var threads: Int?

        public init(upsample: Int? = nil) {
            self.upsample = upsample
        }
    }

    /// Which face an enrolment takes.
    public enum EnrollmentPolicy: String, Sendable, CaseIterable, Codable {
        /// Exactly one face, else `multipleFaces`.
        case single
        /// The largest face (by box area).
        case largest
    }

    public let detector: FaceDetector
    public let landmarks: LandmarkPredictor
    public let embedder: FaceEmbedder
    public let aligner = FaceAligner()
    public let options: Options

    public init(detector: FaceDetector, landmarks: LandmarkPredictor, embedder: FaceEmbedder, options: Options = Options()) {
        self.detector = detector
        self.landmarks = landmarks
        self.embedder = embedder
        self.options = options
    }

    public convenience init(models: ModelDirectory, options: Options = Options()) throws(FaceAnalysisError) {
        self.init(detector: try FaceDetector(models: models), landmarks: try LandmarkPredictor(models: models),
                  embedder: try FaceEmbedder(models: models), options: options)
        Network.releaseLoadingMemory()
    }

    /// The same models with other options.
    public func with(options: Options) -> FacePipeline {
        FacePipeline(detector: detector, landmarks: landmarks, embedder: embedder, options: options)
    }

    /// Faces in the photo, most confident first, each with landmarks and quality; with
    /// `embed`, also descriptors (computed in one batch).
    public func analyze(_ image: RGBImage, embed: Bool = true) throws(FaceAnalysisError) -> [FaceRecord] {
        let (records, chips) = try locate(image)
        return try embed ? embedded(records, chips: chips, indices: Array(records.indices)) : records
    }

    /// Every face with landmarks, quality and its aligned chip (cut once, here).
    func locate(_ image: RGBImage) throws(FaceAnalysisError) -> (records: [FaceRecord], chips: [RGBImage]) {
        var records: [FaceRecord] = []
        var chips: [RGBImage] = []
        for d in try detect(image) {
            let points = landmarks.landmarks(in: image, box: d.box)
            let chip = aligner.chip(from: image, landmarks: points)
            let quality = FaceQuality.measure(box: d.box, confidence: d.confidence, imageWidth: image.width,
                                              imageHeight: image.height, chip: chip, thresholds: options.quality)
            records.append(FaceRecord(box: d.box, confidence: d.confidence, landmarks: points, quality: quality))
            chips.append(chip)
        }
        return (records, chips)
    }

    /// `records` with descriptors for those at `indices`, embedded in one batch.
    private func embedded(_ records: [FaceRecord], chips: [RGBImage], indices: [Int]) throws(FaceAnalysisError) -> [FaceRecord] {
        guard !indices.isEmpty else { return records }
        var out = records
        let descriptors = try embedder.descriptors(for: indices.map { chips[$0] }, threads: options.threads ?? (indices.count == 1 ? 1 : nil))
        for (n, i) in indices.enumerated() { out[i].descriptor = descriptors[n] }
        return out
    }

    /// Decodes and analyses a photo file.
    public func analyze(fileAt path: String, decoder: ImageDecoder = ImageDecoder(), embed: Bool = true) throws(FaceAnalysisError) -> [FaceRecord] {
        let image: RGBImage
        do {
            image = try decoder.decode(fileAt: path)
        } catch {
            throw .image(error)
        }
        return try analyze(image, embed: embed)
    }

    /// A face chosen in a photo, with its aligned chip, before its descriptor is computed: the first
    /// stage of `enrollmentFace` and `probeFace`, for callers that embed chips of several photos in
    /// one batch (the service's requests), then finish with `FaceEmbedder`.
    public struct ChosenFace: Sendable {
        public var record: FaceRecord
        public var chip: RGBImage
        /// Faces found in the photo.
        public var faces: Int
    }

    /// The face to enrol from a photo under `policy`, with its descriptor.
    /// - Throws: `.noFace`, `.multipleFaces`, or `.lowQuality(reasons)` when the chosen face fails the gate.
    public func enrollmentFace(_ image: RGBImage, policy: EnrollmentPolicy = .single) throws(FaceAnalysisError) -> FaceRecord {
        try embedded(try enrollmentCandidate(image, policy: policy))
    }

    /// `enrollmentFace` without the descriptor.
    public func enrollmentCandidate(_ image: RGBImage, policy: EnrollmentPolicy = .single) throws(FaceAnalysisError) -> ChosenFace {
        let (faces, chips) = try locate(image)
        guard !faces.isEmpty else { throw .noFace }
        let index: Int
        switch policy {
        case .single:
            guard faces.count == 1 else { throw .multipleFaces(count: faces.count) }
            index = 0
        case .largest:
            index = Self.largest(faces)
        }
        guard faces[index].quality.passes else { throw .lowQuality(faces[index].quality.reasons) }
        return ChosenFace(record: faces[index], chip: chips[index], faces: faces.count)
    }

    /// A search probe: the largest detected face whatever its quality (the caller reports the
    /// quality; a search is not an enrolment), and how many faces the photo holds.
    /// - Throws: `.noFace` when there is none.
    public func probeFace(_ image: RGBImage) throws(FaceAnalysisError) -> (face: FaceRecord, faces: Int) {
        let chosen = try probeCandidate(image)
        return (try embedded(chosen), chosen.faces)
    }

    /// `probeFace` without the descriptor.
    public func probeCandidate(_ image: RGBImage) throws(FaceAnalysisError) -> ChosenFace {
        let (faces, chips) = try locate(image)
        guard !faces.isEmpty else { throw .noFace }
        let index = Self.largest(faces)
        return ChosenFace(record: faces[index], chip: chips[index], faces: faces.count)
    }

    private func embedded(_ chosen: ChosenFace) throws(FaceAnalysisError) -> FaceRecord {
        var record = chosen.record
        record.descriptor = try embedder.descriptors(for: [chosen.chip], threads: options.threads ?? 1)[0]
        return record
    }

    /// The largest face by box area; ties go to the more confident (earlier) one.
    static func largest(_ faces: [FaceRecord]) -> Int {
        var best = 0
        for i in faces.indices where faces[i].box.area > faces[best].box.area { best = i }
        return best
    }

    /// Detection with the large-photo and small-photo policies applied.
    public func detect(_ image: RGBImage) throws(FaceAnalysisError) -> [Detection] {
        let longest = max(image.width, image.height)
        guard longest > 0 else { return [] }
        if longest > options.maxDetectionSide {
            let scale = Double(options.maxDetectionSide) / Double(longest)
            let w = max(1, Int((Double(image.width) * scale).rounded())), h = max(1, Int((Double(image.height) * scale).rounded()))
            let small = DlibResize.resize(image, width: w, height: h)
            let sx = Double(image.width) / Double(w), sy = Double(image.height) / Double(h)
            return try detector.detect(small, upsample: options.upsample ?? 0, threads: options.threads).map { d in
                let r = DRect(left: Double(d.box.left) * sx, top: Double(d.box.top) * sy,
                              right: Double(d.box.right + 1) * sx - 1, bottom: Double(d.box.bottom + 1) * sy - 1)
                return Detection(box: Box(rounding: r), confidence: d.confidence)
            }
        }
        let upsample = options.upsample ?? (longest <= options.autoUpsampleBelow ? 1 : 0)
        return try detector.detect(image, upsample: upsample, threads: options.threads)
    }
}
