/// A parsed dlib DNN file (spec §2–3): its loss, its input layer, and the layers as forward-order
/// `Operation`s (batch norms converted to affines, nothing fused yet).
public struct DlibNetworkFile: Sendable {
    public enum Loss: Sendable, Equatable {
        case metric(margin: Float, distanceThreshold: Float)
        case mmod(MMODOptions)
    }

    public struct MMODOptions: Sendable, Equatable {
        public var windows: [(width: Int, height: Int)]
        public var nmsIoUThreshold: Double
        public var nmsPercentCoveredThreshold: Double
        public var usesBoxRegression: Bool

        public static func == (a: Self, b: Self) -> Bool {
            a.windows.elementsEqual(b.windows, by: { $0 == $1 }) && a.nmsIoUThreshold == b.nmsIoUThreshold
                && a.nmsPercentCoveredThreshold == b.nmsPercentCoveredThreshold && a.usesBoxRegression == b.usesBoxRegression
        }
    }

    public struct Input: Sendable, Equatable {
        public var kind: String
        /// Mean R, G, B subtracted before dividing by 256.
        public var mean: (r: Float, g: Float, b: Float)
        /// Fixed input size (`input_rgb_image_sized`), if any.
        public var rows: Int?
        public var columns: Int?
        public var pyramidPadding: Int?
        public var pyramidOuterPadding: Int?

        public static func == (a: Self, b: Self) -> Bool {
            a.kind == b.kind && a.mean == b.mean && a.rows == b.rows && a.columns == b.columns
                && a.pyramidPadding == b.pyramidPadding && a.pyramidOuterPadding == b.pyramidOuterPadding
        }
    }

    public let loss: Loss
    public let input: Input
    public let operations: [Operation]

    /// Parses `bytes` as a network of the given architecture (outermost layer first).
    /// The whole file must be consumed.
    public init(bytes: [UInt8], architecture: [DlibLayerSpec]) throws(ModelFileError) {
        var reader = DlibReader(bytes: bytes)
        loss = try Self.readLoss(&reader)

        var versions: [Int] = []
        for (i, spec) in architecture.enumerated() {
            let start = reader.offset
            let v = try reader.int("layer version", in: 0...100)
            let innermost = i == architecture.count - 1
            let allowed: ClosedRange<Int> = !spec.isComputational ? 1...1 : (innermost ? 2...3 : 1...2)
            guard allowed.contains(v) else {
                throw .wrongArchitecture("layer \(i) (\(spec)) has version \(v) at byte \(start); expected \(allowed)")
            }
            versions.append(v)
        }
        input = try Self.readInput(&reader)

        // Payloads come innermost first, i.e. in forward order.
        var forward: [Operation] = []
        for i in stride(from: architecture.count - 1, through: 0, by: -1) {
            let spec = architecture[i]
            switch spec {
            case .tag(let id): forward.append(.tag(id)); continue
            case .skip(let id): forward.append(.skip(id)); continue
            default: break
            }
            forward.append(try Self.readLayer(&reader, spec: spec, index: i))
            try Self.readTail(&reader, version: versions[i], innermost: i == architecture.count - 1)
        }
        guard reader.isAtEnd else { throw .trailingBytes(offset: reader.offset, remaining: reader.remaining) }
        operations = forward
    }

    public init(contentsOf path: String, architecture: [DlibLayerSpec]) throws(ModelFileError) {
        let reader = try DlibReader(contentsOf: path)
        try self.init(bytes: reader.bytes, architecture: architecture)
    }

    private static func readLoss(_ r: inout DlibReader) throws(ModelFileError) -> Loss {
        try r.expectInt(1, "loss version")
        switch try r.expectString("loss_metric_2", "loss_metric_", "loss_mmod_") {
        case "loss_metric_2":
            return .metric(margin: try r.float("margin"), distanceThreshold: try r.float("distance threshold"))
        case "loss_metric_":
            return .metric(margin: 0.1, distanceThreshold: 0.75)
        default:
            let version = try r.int("mmod options version", in: 1...4)
            var windows: [(width: Int, height: Int)] = []
            if version == 1 {
                windows.append((try r.int("window width", in: 1...10_000), try r.int("window height", in: 1...10_000)))
            } else {
                let count = try r.int("window count", in: 1...1_000)
                for _ in 0..<count {
                    let wv = try r.int("window version", in: 1...2)
                    windows.append((try r.int("window width", in: 1...10_000), try r.int("window height", in: 1...10_000)))
                    if wv == 2 { _ = try r.string("window label") }
                }
            }
            _ = try r.double("loss per false alarm")
            _ = try r.double("loss per missed target")
            _ = try r.double("truth match IoU")
            let nmsIoU = try r.double("NMS IoU threshold")
            let nmsCovered = try r.double("NMS percent covered threshold")
            _ = try r.double("ignore IoU")
            _ = try r.double("ignore percent covered")
            if version >= 3 { _ = try r.byte("assume image pyramid") }
            var bbr = false
            if version >= 4 {
                bbr = try r.bool("use box regression")
                _ = try r.double("bbr lambda")
            }
            return .mmod(MMODOptions(windows: windows, nmsIoUThreshold: nmsIoU, nmsPercentCoveredThreshold: nmsCovered,
                                     usesBoxRegression: bbr))
        }
    }

    private static func readInput(_ r: inout DlibReader) throws(ModelFileError) -> Input {
        let kind = try r.expectString("input_rgb_image_sized", "input_rgb_image_pyramid", "input_rgb_image_pyramid2", "input_rgb_image")
        let mean = (try r.float("mean red"), try r.float("mean green"), try r.float("mean blue"))
        var input = Input(kind: kind, mean: mean)
        switch kind {
        case "input_rgb_image_sized":
            input.rows = try r.int("input rows", in: 1...100_000)
            input.columns = try r.int("input columns", in: 1...100_000)
        case "input_rgb_image_pyramid2":
            input.pyramidPadding = try r.int("pyramid padding", in: 0...10_000)
            input.pyramidOuterPadding = try r.int("pyramid outer padding", in: 0...10_000)
        case "input_rgb_image_pyramid":
            (input.pyramidPadding, input.pyramidOuterPadding) = (10, 11)
        default:
            break
        }
        return input
    }

    private static func readLayer(_ r: inout DlibReader, spec: DlibLayerSpec, index: Int) throws(ModelFileError) -> Operation {
        let start = r.offset
        func mismatch(_ detail: String) -> ModelFileError {
            .wrongArchitecture("layer \(index) at byte \(start): expected \(spec), \(detail)")
        }
        switch spec {
        case .con(let filters, let kernel, let stride):
            let version = try r.expectString("con_4", "con_5", "con_6")
            let params = try r.tensor("con params").values
            let numFilters = try r.int("num_filters", in: 1...100_000)
            let nr = try r.int("nr", in: 1...1_000), nc = try r.int("nc", in: 1...1_000)
            let sy = try r.int("stride_y", in: 1...1_000), sx = try r.int("stride_x", in: 1...1_000)
            let py = try r.int("pad_y", in: 0...1_000), px = try r.int("pad_x", in: 0...1_000)
            let filterShape = try r.aliasTensor("filters")
            _ = try r.aliasTensor("biases")
            for _ in 0..<4 { _ = try r.double("learning multiplier") }
            var useBias = true, useReLU = false
            if version != "con_4" { useBias = try r.bool("use_bias") }
            if version == "con_6" { useReLU = try r.bool("use_relu") }
            guard numFilters == filters, nr == kernel, nc == kernel, sy == stride, sx == stride else {
                throw mismatch("found con \(numFilters) \(nr)×\(nc) stride \(sy),\(sx)")
            }
            guard filterShape[0] == numFilters, filterShape[2] == nr, filterShape[3] == nc else {
                throw mismatch("filter alias \(filterShape)")
            }
            let inChannels = filterShape[1]
            let weightCount = numFilters * inChannels * nr * nc
            guard params.count == weightCount + (useBias ? numFilters : 0) else {
                throw mismatch("\(params.count) params for \(weightCount) weights")
            }
            var conv = Convolution(filters: numFilters, inChannels: inChannels, kernelHeight: nr, kernelWidth: nc,
                                   strideY: sy, strideX: sx, padY: py, padX: px, oihw: Array(params[0..<weightCount]),
                                   bias: useBias ? Array(params[weightCount...]) : [Float](repeating: 0, count: numFilters))
            if useReLU { conv.fuseReLU() }
            return .convolution(conv)

        case .affine:
            switch try r.expectString("affine_", "affine_2", "bn_con2") {
            case "bn_con2":
                let params = try r.tensor("bn params").values
                let gammaShape = try r.aliasTensor("gamma")
                _ = try r.aliasTensor("beta")
                _ = try r.tensor("means")
                _ = try r.tensor("invstds")
                let runningMeans = try r.tensor("running means").values
                let runningVariances = try r.tensor("running variances").values
                _ = try r.integer("num_updates")
                _ = try r.integer("running stats window")
                for _ in 0..<4 { _ = try r.double("learning multiplier") }
                let eps = try r.float("eps")
                let c = gammaShape.reduce(1, *)
                guard params.count == 2 * c, runningMeans.count == c, runningVariances.count == c else {
                    throw mismatch("batch-norm sizes \(params.count), \(runningMeans.count), \(runningVariances.count) for \(c) channels")
                }
                // dlib's own bn → affine conversion, in Float32.
                var scale = [Float](repeating: 0, count: c), shift = scale
                for i in 0..<c {
                    scale[i] = params[i] / (runningVariances[i] + eps).squareRoot()
                    shift[i] = params[c + i] - scale[i] * runningMeans[i]
                }
                return .affine(scale: scale, shift: shift)
            case let version:
                let params = try r.tensor("affine params").values
                let gammaShape = try r.aliasTensor("gamma")
                _ = try r.aliasTensor("beta")
                let mode = try r.int("affine mode", in: 0...1)
                let disabled = version == "affine_2" ? try r.bool("disabled") : false
                let c = gammaShape.reduce(1, *)
                guard mode == 0 else { throw mismatch("affine in FC mode is not supported") }
                guard params.count == 2 * c else { throw mismatch("\(params.count) affine params for \(c) channels") }
                if disabled { return .affine(scale: [Float](repeating: 1, count: c), shift: [Float](repeating: 0, count: c)) }
                return .affine(scale: Array(params[0..<c]), shift: Array(params[c...]))
            }

        case .relu:
            if try r.expectString("relu_", "relu_2") == "relu_2", try r.bool("disabled") {
                throw mismatch("a disabled relu is not supported")
            }
            return .relu

        case .maxPool(let window, let stride), .avgPool(let window, let stride):
            let isMax: Bool
            if case .maxPool = spec { isMax = true } else { isMax = false }
            try r.expectString(isMax ? "max_pool_2" : "avg_pool_2")
            let nr = try r.int("pool nr", in: 0...1_000), nc = try r.int("pool nc", in: 0...1_000)
            let sy = try r.int("pool stride_y", in: 1...1_000), sx = try r.int("pool stride_x", in: 1...1_000)
            let py = try r.int("pool pad_y", in: 0...1_000), px = try r.int("pool pad_x", in: 0...1_000)
            guard nr == window, nc == window, sy == stride, sx == stride else {
                throw mismatch("found pool \(nr)×\(nc) stride \(sy),\(sx)")
            }
            return .pool(Pooling(kind: isMax ? .max : .average, windowHeight: nr, windowWidth: nc, strideY: sy, strideX: sx,
                                 padY: py, padX: px))

        case .addPrev(let id):
            try r.expectString("add_prev_")
            return .addSaved(id, relu: false)

        case .fc(let outputs):
            let version = try r.expectString("fc_2", "fc_3")
            let numOutputs = try r.int("num_outputs", in: 1...1_000_000)
            let numInputs = try r.int("num_inputs", in: 1...100_000_000)
            let params = try r.tensor("fc params").values
            _ = try r.aliasTensor("weights")
            _ = try r.aliasTensor("biases")
            let biasMode = try r.int("bias_mode", in: 0...1)
            for _ in 0..<4 { _ = try r.double("learning multiplier") }
            let useBias = version == "fc_3" ? try r.bool("use_bias") : true
            guard numOutputs == outputs else { throw mismatch("found fc with \(numOutputs) outputs") }
            let hasBias = biasMode == 0 && useBias
            let weightCount = numInputs * numOutputs
            guard params.count >= weightCount + (hasBias ? numOutputs : 0) else {
                throw mismatch("\(params.count) fc params for \(weightCount) weights")
            }
            return .fullyConnected(FullyConnected(inputs: numInputs, outputs: numOutputs, weights: Array(params[0..<weightCount]),
                                                  bias: hasBias ? Array(params[weightCount..<(weightCount + numOutputs)]) : nil))

        case .tag, .skip:
            preconditionFailure("tags and skips have no payload")
        }
    }

    private static func readTail(_ r: inout DlibReader, version: Int, innermost: Bool) throws(ModelFileError) {
        _ = try r.bool("setup_called")
        _ = try r.bool("gradient_input_is_stale")
        _ = try r.bool("output_and_gradient_disabled")
        _ = try r.tensor("x_grad")
        _ = try r.tensor("cached_output")
        if innermost {
            _ = try r.tensor("grad_final")
            if version >= 3 { _ = try r.integer("sample_expansion_factor") }
        } else if version == 2 {
            _ = try r.tensor("params_grad")
        }
    }
}
