/// An 8-bit RGB image.
///
/// Layout: `height` rows of `width` pixels, rows top to bottom with no padding, each pixel three
/// bytes R, G, B. Pixel (x, y) starts at byte `(y * width + x) * 3`. Every image Argus decodes,
/// resizes or warps has this layout.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// - Precondition: `pixels.count == width * height * 3`, both dimensions ≥ 0.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "width >= 0 && height >= 0")
        precondition(pixels.count == width * height * 3, "pixels.count == width * height * 3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    public var pixelCount: Int { width * height }

    /// The pixel at (x, y). - Precondition: the point is inside the image.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
