import Testing
@testable import ArgusImaging

@Suite("JPEG decoding")
struct JPEGDecodingTests {
    let decoder = ImageDecoder()

    @Test("baseline and progressive RGB decode close to the source", arguments: [false, true])
    func rgb(progressive: Bool) throws {
        let source = TestImages.gradient()
        let bytes = try ImageEncoder.jpeg(source, quality: 95, progressive: progressive)
        let decoded = try decoder.decode(bytes)
        #expect(decoded.width == source.width && decoded.height == source.height)
        #expect(TestImages.meanAbsoluteDifference(decoded, source) < 2.5)
    }

    @Test("grayscale JPEG decodes to equal R, G and B")
    func grayscale() throws {
        let width = 40, height = 24
        let samples = (0..<(width * height)).map { UInt8(($0 % width) * 6) }
        let bytes = try ImageEncoder.jpeg(samples: samples, width: width, height: height, components: 1, quality: 98)
        let decoded = try decoder.decode(bytes)
        #expect(decoded.width == width && decoded.height == height)
        for i in 0..<(width * height) {
            let (r, g, b) = (decoded.pixels[3 * i], decoded.pixels[3 * i + 1], decoded.pixels[3 * i + 2])
            #expect(r == g && g == b)
            #expect(abs(Int(r) - Int(samples[i])) <= 4)
        }
    }

    @Test("CMYK and YCCK (Adobe-inverted) convert to RGB", arguments: [false, true])
    func cmyk(ycck: Bool) throws {
        let source = TestImages.quadrants()
        // Inverted CMYK as Photoshop writes it: c = 255 − C; with K = 0, c = R, m = G, y = B, k = 255.
        var samples = [UInt8]()
        for i in 0..<source.pixelCount {
            samples += [source.pixels[3 * i], source.pixels[3 * i + 1], source.pixels[3 * i + 2], 255]
        }
        let bytes = try ImageEncoder.jpeg(samples: samples, width: source.width, height: source.height,
                                          components: 4, quality: 100, ycck: ycck)
        let decoded = try decoder.decode(bytes)
        // YCCK subsamples chroma, which blurs the block edges; the block interiors must match.
        for y in 0..<source.height where (3..<13).contains(y % 16) {
            for x in 0..<source.width where (3..<13).contains(x % 16) {
                let (a, b) = (decoded[x, y], source[x, y])
                #expect(abs(Int(a.r) - Int(b.r)) <= 8 && abs(Int(a.g) - Int(b.g)) <= 8 && abs(Int(a.b) - Int(b.b)) <= 8)
            }
        }
        // Centre of the first block: red.
        let p = decoded[8, 8]
        #expect(p.r > 200 && p.g < 60 && p.b < 60)
    }

    /// Where the stored pixel (sx, sy) of a W×H image is shown, from EXIF's own wording
    /// ("the 0th row is the visual …, the 0th column is the visual …"), written independently
    /// of the decoder's mapping.
    static func displayed(_ o: Int, sx: Int, sy: Int, w: Int, h: Int) -> (x: Int, y: Int) {
        switch o {
        case 1: return (sx, sy)                    // row 0 top, column 0 left
        case 2: return (w - 1 - sx, sy)            // row 0 top, column 0 right
        case 3: return (w - 1 - sx, h - 1 - sy)    // row 0 bottom, column 0 right
        case 4: return (sx, h - 1 - sy)            // row 0 bottom, column 0 left
        case 5: return (sy, sx)                    // row 0 left, column 0 top
        case 6: return (h - 1 - sy, sx)            // row 0 right, column 0 top
        case 7: return (h - 1 - sy, w - 1 - sx)    // row 0 right, column 0 bottom
        default: return (sy, w - 1 - sx)           // 8: row 0 left, column 0 bottom
        }
    }

    @Test("EXIF orientation 1–8 is applied (both TIFF byte orders)", arguments: 1...8, [true, false])
    func orientation(_ o: Int, littleEndian: Bool) throws {
        let stored = TestImages.quadrants()
        let w = stored.width, h = stored.height
        let bytes = try ImageEncoder.jpeg(samples: stored.pixels, width: w, height: h, components: 3, quality: 100,
                                          exif: TestImages.exifOrientation(UInt16(o), littleEndian: littleEndian))
        let decoded = try decoder.decode(bytes)
        let swaps = o >= 5
        #expect(decoded.width == (swaps ? h : w) && decoded.height == (swaps ? w : h))
        // Check the centre of every block lands where EXIF says.
        for by in stride(from: 8, to: h, by: 16) {
            for bx in stride(from: 8, to: w, by: 16) {
                let target = Self.displayed(o, sx: bx, sy: by, w: w, h: h)
                let expected = stored[bx, by], got = decoded[target.x, target.y]
                #expect(abs(Int(expected.r) - Int(got.r)) < 12 && abs(Int(expected.g) - Int(got.g)) < 12
                        && abs(Int(expected.b) - Int(got.b)) < 12, "orientation \(o) block (\(bx),\(by))")
            }
        }
        let ignoring = try ImageDecoder(options: .init(applyExifOrientation: false)).decode(bytes)
        #expect(ignoring.width == w && ignoring.height == h)
    }

    @Test("a malformed EXIF segment is ignored, not fatal")
    func malformedExif() throws {
        var exif = TestImages.exifOrientation(6, littleEndian: true)
        exif[4] = 0xF0  // IFD offset far past the segment
        let source = TestImages.quadrants()
        let bytes = try ImageEncoder.jpeg(samples: source.pixels, width: source.width, height: source.height,
                                          components: 3, exif: exif)
        let decoded = try decoder.decode(bytes)
        #expect(decoded.width == source.width)
    }

    @Test("truncated JPEGs are reported as truncated at every cut")
    func truncated() throws {
        let bytes = try ImageEncoder.jpeg(TestImages.gradient(), quality: 90, progressive: false)
        let progressive = try ImageEncoder.jpeg(TestImages.gradient(), quality: 90, progressive: true)
        for source in [bytes, progressive] {
            for cut in [3, 10, 40, 100, 200, source.count / 2, source.count - 40, source.count - 2] {
                #expect(throws: ImagingError.self, "cut at \(cut)") { try decoder.decode(Array(source[0..<cut])) }
                do {
                    _ = try decoder.decode(Array(source[0..<cut]))
                } catch {
                    guard case .truncated = error else {
                        Issue.record("cut at \(cut) of \(source.count): expected .truncated, got \(error)")
                        continue
                    }
                }
            }
        }
    }

    @Test("corrupted markers give a typed error")
    func corruptMarkers() throws {
        let bytes = try ImageEncoder.jpeg(TestImages.gradient(), quality: 90)
        // Find the SOF0 marker and destroy its component count; then the Huffman table class.
        var badSOF = bytes
        if let sof = (2..<(bytes.count - 1)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }) {
            badSOF[sof + 9] = 0x00
        }
        #expect(throws: ImagingError.self) { try decoder.decode(badSOF) }
        var badDHT = bytes
        if let dht = (2..<(bytes.count - 1)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC4 }) {
            badDHT[dht + 4] = 0x7F  // invalid table class/index
        }
        #expect(throws: ImagingError.self) { try decoder.decode(badDHT) }
        var garbage = bytes
        for i in stride(from: bytes.count / 3, to: bytes.count - 2, by: 7) { garbage[i] = 0xFF }
        #expect(throws: ImagingError.self) { try decoder.decode(garbage) }
    }

    @Test("huge declared dimensions are refused from the header")
    func hugeDimensions() throws {
        let bytes = try ImageEncoder.jpeg(TestImages.gradient(), quality: 90)
        let huge = TestImages.jpegWithDimensions(bytes, width: 65_000, height: 65_000)
        #expect(throws: ImagingError.tooLarge(width: 65_000, height: 65_000, maxPixels: 40_000_000)) {
            try decoder.decode(huge)
        }
        let small = ImageDecoder(options: .init(maxPixels: 1000))
        #expect(throws: ImagingError.tooLarge(width: 64, height: 48, maxPixels: 1000)) { try small.decode(bytes) }
    }
}
