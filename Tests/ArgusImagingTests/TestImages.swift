@testable import ArgusImaging

/// Images and byte surgery for decoder tests, all made at test time.
enum TestImages {
    /// A smooth colour gradient with a bright square: compresses well, survives JPEG closely.
    static func gradient(width: Int = 64, height: Int = 48) -> RGBImage {
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let inSquare = x >= width / 4 && x < width / 2 && y >= height / 4 && y < height / 2
                pixels.append(inSquare ? 230 : UInt8(x * 255 / max(1, width - 1)))
                pixels.append(inSquare ? 230 : UInt8(y * 255 / max(1, height - 1)))
                pixels.append(UInt8((x + y) * 255 / max(1, width + height - 2)))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Four solid 16×16 quadrants of distinct colours: unambiguous after any rotation or flip.
    static func quadrants(block: Int = 16, cols: Int = 3, rows: Int = 2) -> RGBImage {
        let colors: [(UInt8, UInt8, UInt8)] = [(220, 30, 30), (30, 200, 40), (30, 40, 210), (230, 220, 40), (200, 40, 200), (40, 210, 210)]
        var image = RGBImage(width: block * cols, height: block * rows)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let c = colors[(y / block) * cols + x / block]
                let i = (y * image.width + x) * 3
                image.pixels[i] = c.0
                image.pixels[i + 1] = c.1
                image.pixels[i + 2] = c.2
            }
        }
        return image
    }

    static func meanAbsoluteDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
        precondition(a.width == b.width && a.height == b.height)
        var sum = 0
        for i in 0..<a.pixels.count { sum += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
        return Double(sum) / Double(a.pixels.count)
    }

    static func maxAbsoluteDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
        var worst = 0
        for i in 0..<a.pixels.count { worst = max(worst, abs(Int(a.pixels[i]) - Int(b.pixels[i]))) }
        return worst
    }

    /// A TIFF header with IFD0 holding only the Orientation tag, as EXIF's APP1 carries it.
    static func exifOrientation(_ value: UInt16, littleEndian: Bool) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let b = [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            return littleEndian ? b : b.reversed()
        }
        var tiff: [UInt8] = littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]
        tiff += u16(42) + u32(8)
        tiff += u16(2)  // two entries: an unrelated one first, then Orientation
        tiff += u16(0x010F) + u16(2) + u32(4) + Array("Cam\0".utf8)  // Make, ASCII, inline
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0)
        tiff += u32(0)
        return tiff
    }

    /// CRC-32 as PNG chunks use it, for patching headers in tests.
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    /// Rewrites the IHDR dimensions of a PNG and fixes the chunk CRC.
    static func pngWithDimensions(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
        var out = png
        // Signature (8), IHDR length (4), "IHDR" (4), then width and height big-endian.
        for (i, v) in [width, height].enumerated() {
            for b in 0..<4 { out[16 + i * 4 + b] = UInt8((v >> (24 - 8 * UInt32(b))) & 0xFF) }
        }
        let crc = crc32(out[12..<29])
        for b in 0..<4 { out[29 + b] = UInt8((crc >> (24 - 8 * UInt32(b))) & 0xFF) }
        return out
    }

    /// Rewrites the frame dimensions in a JPEG's SOFn segment.
    static func jpegWithDimensions(_ jpeg: [UInt8], width: UInt16, height: UInt16) -> [UInt8] {
        var out = jpeg
        var i = 2
        while i + 9 < out.count {
            guard out[i] == 0xFF else { break }
            let marker = out[i + 1]
            let length = Int(out[i + 2]) << 8 | Int(out[i + 3])
            if (0xC0...0xC2).contains(marker) {
                out[i + 5] = UInt8(height >> 8); out[i + 6] = UInt8(height & 0xFF)
                out[i + 7] = UInt8(width >> 8); out[i + 8] = UInt8(width & 0xFF)
                return out
            }
            i += 2 + length
        }
        return out
    }
}
