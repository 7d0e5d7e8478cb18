/// An 8-bit single-channel image: `height` rows of `width` bytes, no padding.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// - Precondition: `pixels.count == width * height`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "pixels.count == width * height")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }
}

extension RGBImage {
    /// Luma with ITU-R BT.601 weights (0.299, 0.587, 0.114), rounded, in integer arithmetic.
    public func grayscale() -> GrayImage {
        var out = [UInt8](repeating: 0, count: pixelCount)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count {
                    // Weights scaled by 2^16: 19595 + 38470 + 7471 = 65536.
                    let r = UInt32(src[3 * i]), g = UInt32(src[3 * i + 1]), b = UInt32(src[3 * i + 2])
                    dst[i] = UInt8((19595 * r + 38470 * g + 7471 * b + 32768) >> 16)
                }
            }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}
