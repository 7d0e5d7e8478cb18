public import ArgusImaging
public import ArgusNN

/// A face found by the detector: dlib's integer box (inclusive corners, may extend past the
/// image) and the detector's score (clear faces score about 1.0–1.15).
public struct Detection: Sendable, Equatable {
    public var box: Box
    public var confidence: Double

    public init(box: Box, confidence: Double) {
        self.box = box
        self.confidence = confidence
    }
}

/// dlib's CNN face detector (MMOD, `mmod_human_face_detector.dat`; spec §5): the tiled image
/// pyramid, one network pass, score-map decoding, dlib's non-max suppression, and optional
/// upsampling with dlib's exact `pyramid_up` size. Thread-safe.
public final class FaceDetector: Sendable {
    public let network: Network
    public let mean: (r: Float, g: Float, b: Float)
    let padding: Int
    let outerPadding: Int
    let window: (width: Int, height: Int)
    let nmsIoU: Double
    let nmsCovered: Double
    /// Score-map cell (c, r) ↦ tensor point (scale·c + offset, scale·r + offset).
    let scale: Int
    let offset: Int

    /// - Parameter kernels: the convolutions' instruction set (default: `ARGUS_KERNELS`, else the best this CPU runs).
    public init(modelPath: String, kernels: InstructionSet? = nil) throws(FaceAnalysisError) {
        let file: DlibNetworkFile
        do {
            file = try DlibNetworkFile(contentsOf: modelPath, architecture: MMODArchitecture.layers)
        } catch {
            throw .model(error)
        }
        guard case .mmod(let options) = file.loss, options.windows.count == 1, !options.usesBoxRegression,
              let padding = file.input.pyramidPadding, let outer = file.input.pyramidOuterPadding else {
            throw .model(.wrongArchitecture("expected a single-window MMOD detector on a tiled pyramid"))
        }
        network = Network(operations: file.operations, kernels: kernels)
        mean = file.input.mean
        self.padding = padding
        outerPadding = outer
        window = options.windows[0]
        nmsIoU = options.nmsIoUThreshold
        nmsCovered = options.nmsPercentCoveredThreshold
        // Compose p ↦ p·stride − pad + k/2 over the convolutions, outermost first.
        var a = 1, b = 0
        for op in file.operations.reversed() {
            if case .convolution(let conv) = op {
                a *= conv.strideY
                b = b * conv.strideY - conv.padY + conv.kernelHeight / 2
            }
        }
        (scale, offset) = (a, b)
    }

    public convenience init(models: ModelDirectory, kernels: InstructionSet? = nil) throws(FaceAnalysisError) {
        let isa: InstructionSet
        if let kernels { isa = kernels } else { isa = try InstructionSet.checkedDefault() }
        try self.init(modelPath: try models.require(ModelDirectory.detectorFile), kernels: isa)
    }

    /// The pieces of one detection pass, for tests and diagnostics.
    public struct Pass: Sendable {
        public var pyramid: TiledPyramid
        public var scoreRows: Int
        public var scoreColumns: Int
        public var scores: [Float]
    }

    /// The network's input for `image` (already upsampled if wanted): its tiled pyramid as a tensor.
    public func networkInput(_ image: RGBImage, threads: Int? = nil) -> (pyramid: TiledPyramid, tensor: [Float], shape: Shape) {
        let pyramid = TiledPyramid(imageWidth: image.width, imageHeight: image.height, padding: padding, outerPadding: outerPadding)
        let tensor = pyramid.tensor(for: image, mean: mean, threads: threads ?? BLASThreads.cores)
        return (pyramid, tensor, Shape(n: 1, height: pyramid.rows, width: pyramid.columns, channels: 3))
    }

    /// Runs the network on the tiled pyramid of `image` (already upsampled if wanted).
    public func scoreMap(_ image: RGBImage, threads: Int? = nil) throws(FaceAnalysisError) -> Pass {
        let (pyramid, tensor, shape) = networkInput(image, threads: threads)
        do {
            let (scores, outShape) = try network.forward(tensor, shape: shape, threads: threads)
            return Pass(pyramid: pyramid, scoreRows: outShape.height, scoreColumns: outShape.width, scores: scores)
        } catch {
            throw .network(error)
        }
    }

    /// Faces in `image`, most confident first.
    /// - Parameters:
    ///   - upsample: how many times to enlarge the image first (dlib's `upsample_num_times`); each step
    ///     halves the smallest findable face (about 80 px at 0, 40 px at 1).
    ///   - adjustThreshold: score a cell must exceed (dlib's default 0).
    public func detect(_ image: RGBImage, upsample: Int = 0, adjustThreshold: Double = 0, threads: Int? = nil) throws(FaceAnalysisError) -> [Detection] {
        guard image.width > 0, image.height > 0 else { return [] }
        var work = image
        for _ in 0..<max(0, upsample) {
            let size = DlibResize.upsampledSize(width: work.width, height: work.height)
            work = DlibResize.resize(work, width: size.width, height: size.height)
        }
        // Very small images give no score map at all: no face can be found in them.
        guard work.height >= 5, work.width >= 5 else { return [] }
        let probe = TiledPyramid(imageWidth: work.width, imageHeight: work.height, padding: padding, outerPadding: outerPadding)
        guard (try? network.outputShape(for: Shape(n: 1, height: probe.rows, width: probe.columns, channels: 3))) != nil else {
            return []
        }
        let pass = try scoreMap(work, threads: threads)
        var candidates: [Detection] = []
        let halfW = Double(window.width - 1) / 2, halfH = Double(window.height - 1) / 2
        for r in 0..<pass.scoreRows {
            for c in 0..<pass.scoreColumns {
                let score = Double(pass.scores[r * pass.scoreColumns + c])
                guard score > adjustThreshold else { continue }
                let px = Double(scale * c + offset), py = Double(scale * r + offset)
                let tensorRect = DRect(left: px - halfW, top: py - halfH, right: px + halfW, bottom: py + halfH)
                candidates.append(Detection(box: Box(rounding: pass.pyramid.imageRect(fromTensor: tensorRect)), confidence: score))
            }
        }
        // Stable: equal scores keep their score-map order, as dlib's sort leaves them.
        let ordered = candidates.enumerated().sorted {
            $0.element.confidence > $1.element.confidence || ($0.element.confidence == $1.element.confidence && $0.offset < $1.offset)
        }.map(\.element)
        var kept: [Detection] = []
        for candidate in ordered where !kept.contains(where: { overlaps($0.box, candidate.box) }) {
            kept.append(candidate)
        }
        guard upsample > 0 else { return kept }
        return kept.map { d in
            var r = DRect(left: Double(d.box.left), top: Double(d.box.top), right: Double(d.box.right), bottom: Double(d.box.bottom))
            for _ in 0..<upsample {
                r = DRect(left: r.left / 2 - 1.25, top: r.top / 2 - 0.75, right: r.right / 2 - 1.25, bottom: r.bottom / 2 - 0.75)
            }
            return Detection(box: Box(rounding: r), confidence: d.confidence)
        }
    }

    /// dlib's `test_box_overlap`: the intersection over the *bounding box of both* (not the usual
    /// IoU), or over either box's own area.
    func overlaps(_ a: Box, _ b: Box) -> Bool {
        let inner = Double(a.intersection(b).area)
        guard inner > 0 else { return false }
        let outer = Box(left: min(a.left, b.left), top: min(a.top, b.top), right: max(a.right, b.right), bottom: max(a.bottom, b.bottom))
        return inner / Double(outer.area) > nmsIoU || inner / Double(a.area) > nmsCovered || inner / Double(b.area) > nmsCovered
    }
}
