import Testing
@testable import ArgusImaging

@Suite("PNG decoding")
struct PNGDecodingTests {
    let decoder = ImageDecoder()
    let width = 9, height = 5  // odd sizes exercise partial bytes and Adam7's sparse passes

    /// Packs samples of `depth` bits MSB-first, one row at a time, as PNG stores them.
    func pack(_ samples: [Int], perRow: Int, depth: Int) -> [UInt8] {
        var out = [UInt8]()
        for row in stride(from: 0, to: samples.count, by: perRow) {
            if depth == 16 {
                for s in samples[row..<(row + perRow)] { out += [UInt8(s >> 8), UInt8(s & 0xFF)] }
            } else if depth == 8 {
                out += samples[row..<(row + perRow)].map { UInt8($0) }
            } else {
                var byte = 0, bits = 0
                for s in samples[row..<(row + perRow)] {
                    byte = (byte << depth) | s
                    bits += depth
                    if bits == 8 { out.append(UInt8(byte)); byte = 0; bits = 0 }
                }
                if bits > 0 { out.append(UInt8(byte << (8 - bits))) }
            }
        }
        return out
    }

    static let cases: [(depth: Int, interlaced: Bool)] = [1, 2, 4, 8, 16].flatMap { [($0, false), ($0, true)] }

    @Test("grayscale at every bit depth, plain and interlaced", arguments: cases)
    func gray(depth: Int, interlaced: Bool) throws {
        let maxValue = (1 << depth) - 1
        let samples = (0..<(width * height)).map { ($0 * 37) % (maxValue + 1) }
        let png = try ImageEncoder.png(rows: pack(samples, perRow: width, depth: depth), width: width, height: height,
                                       colorType: .gray, bitDepth: depth, interlaced: interlaced)
        let image = try decoder.decode(png)
        for i in 0..<samples.count {
            let expected = UInt8((Double(samples[i]) * 255 / Double(maxValue)).rounded())
            #expect(image.pixels[3 * i] == expected && image.pixels[3 * i + 1] == expected && image.pixels[3 * i + 2] == expected)
        }
    }

    @Test("RGB and RGBA at 8 and 16 bits; alpha composited over the background",
          arguments: [(ImageEncoder.PNGColorType.rgb, 8), (.rgb, 16), (.rgba, 8), (.rgba, 16), (.grayAlpha, 8), (.grayAlpha, 16)])
    func colour(type: ImageEncoder.PNGColorType, depth: Int) throws {
        let channels = type == .rgb ? 3 : (type == .rgba ? 4 : 2)
        let maxValue = (1 << depth) - 1
        let samples = (0..<(width * height * channels)).map { ($0 * 7919) % (maxValue + 1) }
        let png = try ImageEncoder.png(rows: pack(samples, perRow: width * channels, depth: depth), width: width,
                                       height: height, colorType: type, bitDepth: depth, interlaced: depth == 16)
        for background in [(UInt8(255), UInt8(255), UInt8(255)), (UInt8(0), UInt8(128), UInt8(10))] {
            let image = try ImageDecoder(options: .init(background: background)).decode(png)
            let bg = [Int(background.0), Int(background.1), Int(background.2)]
            for p in 0..<(width * height) {
                func to8(_ v: Int) -> Int { Int((Double(v) * 255 / Double(maxValue)).rounded()) }
                let s = Array(samples[(p * channels)..<((p + 1) * channels)]).map(to8)
                let rgb = channels >= 3 ? Array(s[0..<3]) : [s[0], s[0], s[0]]
                let alpha = channels == 4 ? s[3] : (channels == 2 ? s[1] : 255)
                for c in 0..<3 {
                    let expected = (rgb[c] * alpha + bg[c] * (255 - alpha) + 127) / 255
                    #expect(abs(Int(image.pixels[3 * p + c]) - expected) <= 1, "pixel \(p) channel \(c)")
                }
            }
        }
    }

    @Test("palette images with tRNS at every palette depth", arguments: [1, 2, 4, 8])
    func palette(depth: Int) throws {
        let entries = 1 << depth
        let palette: [UInt8] = (0..<entries).flatMap { (i: Int) -> [UInt8] in
            [UInt8(i * 255 / max(1, entries - 1)), UInt8(255 - (i * 10) % 256), 40]
        }
        let alphas = (0..<entries).map { UInt8($0 == 0 ? 0 : 255) }  // entry 0 fully transparent
        let indices = (0..<(width * height)).map { $0 % entries }
        let png = try ImageEncoder.png(rows: pack(indices, perRow: width, depth: depth), width: width, height: height,
                                       colorType: .palette, bitDepth: depth, palette: palette, transparency: alphas)
        let image = try decoder.decode(png)
        for p in 0..<indices.count {
            let idx = indices[p]
            let expected: [UInt8] = idx == 0 ? [255, 255, 255] : Array(palette[(3 * idx)..<(3 * idx + 3)])
            #expect(Array(image.pixels[(3 * p)..<(3 * p + 3)]) == expected, "pixel \(p)")
        }
    }

    @Test("a tRNS colour key makes matching gray and RGB pixels transparent")
    func colourKey() throws {
        let gray = (0..<(width * height)).map { $0 % 2 == 0 ? 10 : 200 }
        let grayPNG = try ImageEncoder.png(rows: pack(gray, perRow: width, depth: 8), width: width, height: height,
                                           colorType: .gray, bitDepth: 8, transparency: [0, 10])
        let g = try ImageDecoder(options: .init(background: (1, 2, 3))).decode(grayPNG)
        #expect(Array(g.pixels[0..<6]) == [1, 2, 3, 200, 200, 200])

        let rgb: [Int] = (0..<(width * height)).flatMap { (i: Int) -> [Int] in i % 2 == 0 ? [5, 6, 7] : [100, 110, 120] }
        let rgbPNG = try ImageEncoder.png(rows: pack(rgb, perRow: width * 3, depth: 8), width: width, height: height,
                                          colorType: .rgb, bitDepth: 8, transparency: [0, 5, 0, 6, 0, 7])
        let c = try ImageDecoder(options: .init(background: (0, 0, 0))).decode(rgbPNG)
        #expect(Array(c.pixels[0..<6]) == [0, 0, 0, 100, 110, 120])
    }

    @Test("truncated PNGs are reported as truncated at every cut")
    func truncated() throws {
        let png = try ImageEncoder.png(TestImages.gradient())
        for cut in [8, 12, 20, 33, 40, png.count / 2, png.count - 13, png.count - 1] {
            do {
                _ = try decoder.decode(Array(png[0..<cut]))
                Issue.record("cut at \(cut) decoded")
            } catch {
                guard case .truncated = error else {
                    Issue.record("cut at \(cut): expected .truncated, got \(error)")
                    continue
                }
            }
        }
    }

    @Test("corrupted chunks give a typed error")
    func corrupt() throws {
        let png = try ImageEncoder.png(TestImages.gradient())
        var badIHDR = png
        badIHDR[24] = 7  // bit depth 7 is invalid; CRC now also wrong
        #expect(throws: ImagingError.self) { try decoder.decode(badIHDR) }
        var badData = png
        badData[png.count / 2] ^= 0x5A  // inside IDAT: CRC mismatch
        #expect(throws: ImagingError.self) { try decoder.decode(badData) }
        let validHeaderBadDepth = TestImages.pngWithDimensions(badIHDR, width: 64, height: 48)
        #expect(throws: ImagingError.self) { try decoder.decode(validHeaderBadDepth) }
    }

    @Test("huge declared dimensions are refused before allocation")
    func huge() throws {
        let png = try ImageEncoder.png(TestImages.gradient())
        let huge = TestImages.pngWithDimensions(png, width: 100_000, height: 100_000)
        #expect(throws: ImagingError.tooLarge(width: 100_000, height: 100_000, maxPixels: 40_000_000)) {
            try decoder.decode(huge)
        }
    }
}
