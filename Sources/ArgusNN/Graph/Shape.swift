/// The shape of a batch of activations.
///
/// Layout, everywhere in ArgusNN: NHWC Float32, contiguous. Element (n, y, x, c) is at
/// `((n · height + y) · width + x) · channels + c`. Channels last makes a convolution's
/// im2col a copy of contiguous channel runs and its GEMM output the next layer's input as is.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var n: Int
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(n: Int, height: Int, width: Int, channels: Int) {
        (self.n, self.height, self.width, self.channels) = (n, height, width, channels)
    }

    public var count: Int { n * height * width * channels }
    public var pixelsPerImage: Int { height * width }
    public var countPerImage: Int { height * width * channels }

    public var description: String { "\(n)×\(height)×\(width)×\(channels)" }
}
