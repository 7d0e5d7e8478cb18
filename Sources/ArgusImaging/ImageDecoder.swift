private import CArgusCodecs

/// Decodes JPEG and PNG bytes into `RGBImage`s.
///
/// - JPEG: baseline and progressive; grayscale, RGB, CMYK and YCCK (Adobe-inverted CMYK handled);
///   EXIF orientation 1–8 applied when `applyExifOrientation` is on.
/// - PNG: every colour type and bit depth, palette, tRNS, 16-bit (scaled with rounding), Adam7.
///   Alpha is composited over `background` (white by default, as a photo viewer shows it).
///   Gamma chunks are not applied: samples are taken as stored.
///
/// The pixel budget is checked against the header's dimensions before pixel memory is allocated.
public struct ImageDecoder: Sendable {
    public struct Options: Sendable {
        /// Largest accepted `width * height`. Default 40 MP.
        public var maxPixels: Int
        public var applyExifOrientation: Bool
        /// Colour transparent PNG pixels are composited over.
        public var background: (r: UInt8, g: UInt8, b: UInt8)

        public init(maxPixels: Int = 40_000_000, applyExifOrientation: Bool = true,
                    background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)) {
            self.maxPixels = maxPixels
            self.applyExifOrientation = applyExifOrientation
            self.background = background
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// - Throws: `ImagingError` for empty, unrecognised, corrupt, truncated or over-budget input.
    public func decode(_ bytes: [UInt8]) throws(ImagingError) -> RGBImage {
        guard !bytes.isEmpty else { throw .empty }
        guard let format = ImageFormat.sniff(bytes) else { throw .unsupportedFormat }
        var result = argus_decode_result()
        let budget = UInt64(max(0, options.maxPixels))
        bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .jpeg:
                argus_jpeg_decode(buffer.baseAddress, buffer.count, budget, &result)
            case .png:
                let bg = options.background
                argus_png_decode(buffer.baseAddress, buffer.count, budget, bg.r, bg.g, bg.b, &result)
            }
        }
        let image = try Self.take(&result, maxPixels: options.maxPixels)
        guard options.applyExifOrientation, format == .jpeg,
              let orientation = ExifOrientation(rawValue: Int(result.exif_orientation)) else { return image }
        return image.applying(orientation)
    }

    /// Turns the shim's result into an image or a typed error, releasing the C buffer either way.
    private static func take(_ result: inout argus_decode_result, maxPixels: Int) throws(ImagingError) -> RGBImage {
        let detail = withUnsafeBytes(of: &result.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch result.status {
        case Int32(ARGUS_CODEC_OK.rawValue):
            break
        case Int32(ARGUS_CODEC_TRUNCATED.rawValue):
            throw .truncated(detail: detail.isEmpty ? "data ends early" : detail)
        case Int32(ARGUS_CODEC_TOO_LARGE.rawValue):
            throw .tooLarge(width: Int(result.width), height: Int(result.height), maxPixels: maxPixels)
        case Int32(ARGUS_CODEC_NO_MEMORY.rawValue):
            throw .outOfMemory
        case Int32(ARGUS_CODEC_INVALID_ARGUMENT.rawValue):
            throw .empty
        default:
            throw .corrupt(detail: detail.isEmpty ? "rejected by the decoder" : detail)
        }
        guard let pixels = result.pixels else { throw .outOfMemory }
        defer { argus_codec_free(pixels) }
        let width = Int(result.width), height = Int(result.height)
        let count = width * height * 3
        let copy = [UInt8](UnsafeBufferPointer(start: pixels, count: count))
        return RGBImage(width: width, height: height, pixels: copy)
    }
}
