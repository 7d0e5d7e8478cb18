/// A 2-D cross-correlation with zero padding, optional bias and fused ReLU (spec §3.1).
///
/// Weights are kept as a K×F row-major matrix, K = kernelHeight·kernelWidth·inChannels in
/// (u, v, c) order: the layout an NHWC im2col row multiplies directly.
public struct Convolution: Sendable {
    public private(set) var filters: Int
    public private(set) var inChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideY: Int
    public let strideX: Int
    public let padY: Int
    public let padX: Int
    /// K×F, row-major, K in (u, v, c) order.
    public private(set) var weights: [Float]
    public private(set) var bias: [Float]
    public private(set) var fusedReLU = false

    public var k: Int { kernelHeight * kernelWidth * inChannels }

    /// - Parameter oihw: dlib's `F·C·kh·kw` weights in OIHW order.
    public init(filters: Int, inChannels: Int, kernelHeight: Int, kernelWidth: Int, strideY: Int, strideX: Int,
                padY: Int, padX: Int, oihw: [Float], bias: [Float]) {
        precondition(oihw.count == filters * inChannels * kernelHeight * kernelWidth, "oihw.count == F·C·kh·kw")
        precondition(bias.count == filters, "bias.count == filters")
        (self.filters, self.inChannels, self.kernelHeight, self.kernelWidth) = (filters, inChannels, kernelHeight, kernelWidth)
        (self.strideY, self.strideX, self.padY, self.padX) = (strideY, strideX, padY, padX)
        self.bias = bias
        var kf = [Float](repeating: 0, count: oihw.count)
        for f in 0..<filters {
            for c in 0..<inChannels {
                for u in 0..<kernelHeight {
                    for v in 0..<kernelWidth {
                        let row = (u * kernelWidth + v) * inChannels + c
                        kf[row * filters + f] = oihw[((f * inChannels + c) * kernelHeight + u) * kernelWidth + v]
                    }
                }
            }
        }
        weights = kf
    }

    /// The same layer with `filters` and `inChannels` raised by zero filters and zero-weighted input
    /// channels (an extra filter outputs its bias, 0, through ReLU: 0).
    public func padded(filters newFilters: Int, inChannels newChannels: Int) -> Convolution {
        precondition(newFilters >= filters && newChannels >= inChannels, "padding only adds")
        var copy = self
        copy.filters = newFilters
        copy.inChannels = newChannels
        var w = [Float](repeating: 0, count: kernelHeight * kernelWidth * newChannels * newFilters)
        for tap in 0..<(kernelHeight * kernelWidth) {
            for c in 0..<inChannels {
                for f in 0..<filters { w[(tap * newChannels + c) * newFilters + f] = weights[(tap * inChannels + c) * filters + f] }
            }
        }
        copy.weights = w
        copy.bias = bias + [Float](repeating: 0, count: newFilters - filters)
        return copy
    }

    /// The layer without its weights (they live packed elsewhere: see `Network`); `hasWeights` false.
    func strippingWeights() -> Convolution {
        var copy = self
        copy.weights = []
        return copy
    }

    /// The layer with these K×F weights and biases.
    func with(weights kf: [Float], bias b: [Float]) -> Convolution {
        precondition(kf.count == k * filters && b.count == filters, "K×F weights, F biases")
        var copy = self
        copy.weights = kf
        copy.bias = b
        return copy
    }

    /// False for a layer whose weights a network keeps only in packed form.
    var hasWeights: Bool { !weights.isEmpty }

    /// `out = 1 + (in + 2·pad − k) / stride`; nil when the input is smaller than the kernel.
    public func outputShape(_ input: Shape) -> Shape? {
        guard input.channels == inChannels else { return nil }
        let h = input.height + 2 * padY - kernelHeight, w = input.width + 2 * padX - kernelWidth
        guard h >= 0, w >= 0 else { return nil }
        return Shape(n: input.n, height: 1 + h / strideY, width: 1 + w / strideX, channels: filters)
    }

    /// Folds a following per-channel affine `y·scale + shift` into the weights and bias.
    /// (In Float32, as the reference computes the affine after the convolution: the result
    /// differs from dlib's by rounding only.)
    public mutating func fold(scale: [Float], shift: [Float]) {
        precondition(scale.count == filters && shift.count == filters, "one scale and shift per filter")
        for row in 0..<k {
            for f in 0..<filters { weights[row * filters + f] *= scale[f] }
        }
        for f in 0..<filters { bias[f] = bias[f] * scale[f] + shift[f] }
    }

    public mutating func fuseReLU() { fusedReLU = true }

    public var flopsPerOutputPixel: Int { 2 * k * filters }

    /// 3×3 or 5×5, stride 1, padded to keep the size: a shape the Winograd kernel takes.
    var winogradShaped: Bool {
        strideY == 1 && strideX == 1 && kernelHeight == kernelWidth && (kernelHeight == 3 || kernelHeight == 5)
            && padY == kernelHeight / 2 && padX == kernelWidth / 2
    }
}
