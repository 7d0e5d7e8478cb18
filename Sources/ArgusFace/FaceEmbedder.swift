public import ArgusImaging
public import ArgusNN

/// dlib's ResNet face descriptor (spec §4): a 150×150 RGB chip → 128 Float32 values.
///
/// The raw descriptor is what dlib returns (not normalised; Euclidean distance ≤ 0.6 means the
/// same person in face_recognition). The template is the descriptor L2-normalised, the form
/// galleries store and compare by cosine. Thread-safe: one embedder serves concurrent callers.
public final class FaceEmbedder: Sendable {
    public static let chipSize = 150
    public static let dimension = 128

    public let network: Network
    /// Subtracted per channel before dividing by 256 (from the model file).
    public let mean: (r: Float, g: Float, b: Float)

    /// - Parameter kernels: the convolutions' instruction set (default: `ARGUS_KERNELS`, else the best this CPU runs).
    public init(modelPath: String, kernels: InstructionSet? = nil, precision: Precision? = nil) throws(FaceAnalysisError) {
        let file: DlibNetworkFile
        do {
            file = try DlibNetworkFile(contentsOf: modelPath, architecture: ResNetArchitecture.layers)
        } catch {
            throw .model(error)
        }
        guard case .metric = file.loss, file.input.kind == "input_rgb_image_sized",
              file.input.rows == Self.chipSize, file.input.columns == Self.chipSize else {
            throw .model(.wrongArchitecture("expected a 150×150 metric-learning network"))
        }
        network = Network(operations: file.operations, kernels: kernels, precision: precision)
        mean = file.input.mean
        let probe = Shape(n: 1, height: Self.chipSize, width: Self.chipSize, channels: 3)
        guard (try? network.outputShape(for: probe)) == Shape(n: 1, height: 1, width: 1, channels: Self.dimension) else {
            throw .model(.wrongArchitecture("the network does not map 150×150×3 to 128 values"))
        }
    }

    public convenience init(models: ModelDirectory, kernels: InstructionSet? = nil, precision: Precision? = nil) throws(FaceAnalysisError) {
        let isa: InstructionSet
        if let kernels { isa = kernels } else { isa = try InstructionSet.checkedDefault() }
        try self.init(modelPath: try models.require(ModelDirectory.recognitionFile), kernels: isa, precision: precision)
    }

    /// Raw descriptors of a batch of chips, in order.
    public func descriptors(for chips: [RGBImage], mode: KernelMode = .fast, threads: Int? = nil) throws(FaceAnalysisError) -> [[Float]] {
        guard !chips.isEmpty else { return [] }
        let size = Self.chipSize
        var input = [Float]()
        input.reserveCapacity(chips.count * size * size * 3)
        for chip in chips {
            guard chip.width == size, chip.height == size else { throw .wrongChipSize(width: chip.width, height: chip.height) }
            // An interleaved RGB image is already NHWC; only the normalisation remains.
            for i in 0..<(size * size) {
                input.append((Float(chip.pixels[3 * i]) - mean.r) / 256)
                input.append((Float(chip.pixels[3 * i + 1]) - mean.g) / 256)
                input.append((Float(chip.pixels[3 * i + 2]) - mean.b) / 256)
            }
        }
        let shape = Shape(n: chips.count, height: size, width: size, channels: 3)
        let output: [Float]
        do {
            output = try network.forward(input, shape: shape, mode: mode, threads: threads).values
        } catch {
            throw .network(error)
        }
        return (0..<chips.count).map { Array(output[($0 * Self.dimension)..<(($0 + 1) * Self.dimension)]) }
    }

    public func descriptor(for chip: RGBImage) throws(FaceAnalysisError) -> [Float] {
        try descriptors(for: [chip], threads: 1)[0]
    }

    /// The descriptor scaled to unit length (accumulated in Double).
    public static func template(from descriptor: [Float]) -> [Float] {
        let norm = descriptor.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return descriptor }
        return descriptor.map { Float(Double($0) / norm) }
    }
}
