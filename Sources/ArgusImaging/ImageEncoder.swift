private import CArgusCodecs

/// Encodes `RGBImage`s to JPEG or PNG (for tests, fixtures, and writing chips to disk).
public enum ImageEncoder {
    public enum Failure: Error, Equatable, Sendable {
        case invalidArgument(String)
        case outOfMemory
    }

    /// Baseline (or progressive) JPEG of an RGB image.
    public static func jpeg(_ image: RGBImage, quality: Int = 90, progressive: Bool = false) throws(Failure) -> [UInt8] {
        try jpeg(samples: image.pixels, width: image.width, height: image.height, components: 3,
                 quality: quality, progressive: progressive, ycck: false, exif: [])
    }

    /// JPEG from raw samples: `components` 1 (gray), 3 (RGB) or 4 (CMYK, Adobe-inverted).
    /// `exif` is an APP1 payload starting at the TIFF header (without the "Exif\0\0" prefix).
    public static func jpeg(samples: [UInt8], width: Int, height: Int, components: Int, quality: Int = 90,
                            progressive: Bool = false, ycck: Bool = false, exif: [UInt8] = [],
                            oneScanPerCoefficient: Bool = false) throws(Failure) -> [UInt8] {
        guard [1, 3, 4].contains(components), width > 0, height > 0, samples.count == width * height * components else {
            throw .invalidArgument("samples do not match \(width)x\(height)x\(components)")
        }
        var result = argus_encode_result()
        samples.withUnsafeBufferPointer { pixels in
            exif.withUnsafeBufferPointer { exifBytes in
                var options = argus_jpeg_encode_options(
                    quality: Int32(quality), progressive: oneScanPerCoefficient ? 2 : (progressive ? 1 : 0), ycck: ycck ? 1 : 0,
                    exif: exifBytes.baseAddress, exif_length: exifBytes.count)
                argus_jpeg_encode(pixels.baseAddress, Int32(width), Int32(height),
                                  argus_jpeg_input(rawValue: UInt32(components)), &options, &result)
            }
        }
        return try take(&result)
    }

    /// PNG colour types, as the PNG specification numbers them.
    public enum PNGColorType: Int32, Sendable {
        case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6
    }

    /// 8-bit RGB PNG of an image.
    public static func png(_ image: RGBImage) throws(Failure) -> [UInt8] {
        try png(rows: image.pixels, width: image.width, height: image.height, colorType: .rgb, bitDepth: 8)
    }

    /// PNG from rows already in PNG's sample layout (sub-byte samples packed MSB first, 16-bit big-endian).
    public static func png(rows: [UInt8], width: Int, height: Int, colorType: PNGColorType, bitDepth: Int,
                           interlaced: Bool = false, palette: [UInt8] = [], transparency: [UInt8] = []) throws(Failure) -> [UInt8] {
        guard width > 0, height > 0 else { throw .invalidArgument("empty image") }
        let channels: Int = switch colorType {
        case .gray, .palette: 1
        case .grayAlpha: 2
        case .rgb: 3
        case .rgba: 4
        }
        let rowBytes = (width * channels * bitDepth + 7) / 8
        guard rows.count == rowBytes * height else { throw .invalidArgument("expected \(rowBytes * height) bytes of rows") }
        var result = argus_encode_result()
        rows.withUnsafeBufferPointer { rowBytes in
            palette.withUnsafeBufferPointer { paletteBytes in
                transparency.withUnsafeBufferPointer { trnsBytes in
                    var options = argus_png_encode_options(
                        color_type: colorType.rawValue, bit_depth: Int32(bitDepth), interlaced: interlaced ? 1 : 0,
                        palette: paletteBytes.baseAddress, palette_entries: Int32(palette.count / 3),
                        trns: trnsBytes.baseAddress, trns_length: Int32(transparency.count))
                    argus_png_encode(rowBytes.baseAddress, Int32(width), Int32(height), &options, &result)
                }
            }
        }
        return try take(&result)
    }

    private static func take(_ result: inout argus_encode_result) throws(Failure) -> [UInt8] {
        guard result.status == Int32(ARGUS_CODEC_OK.rawValue), let bytes = result.bytes else {
            if result.status == Int32(ARGUS_CODEC_NO_MEMORY.rawValue) { throw .outOfMemory }
            let detail = withUnsafeBytes(of: &result.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw .invalidArgument(detail)
        }
        defer { argus_codec_free(bytes) }
        return [UInt8](UnsafeBufferPointer(start: bytes, count: result.length))
    }
}
