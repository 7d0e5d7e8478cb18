import Testing
import Foundation
@testable import ArgusImaging

@Suite("Input sniffing and bad input")
struct InputValidationTests {
    let decoder = ImageDecoder()

    @Test("format is sniffed from magic bytes")
    func sniffing() throws {
        #expect(ImageFormat.sniff(try ImageEncoder.jpeg(TestImages.gradient())) == .jpeg)
        #expect(ImageFormat.sniff(try ImageEncoder.png(TestImages.gradient())) == .png)
        #expect(ImageFormat.sniff(Array("GIF89a....".utf8)) == nil)
        #expect(ImageFormat.sniff([0xFF, 0xD8]) == nil)
        #expect(ImageFormat.sniff([UInt8]()) == nil)
    }

    @Test("zero bytes, text and other formats are refused with typed errors")
    func refused() {
        #expect(throws: ImagingError.empty) { try decoder.decode([]) }
        #expect(throws: ImagingError.unsupportedFormat) { try decoder.decode(Array("hello, this is a text file\n".utf8)) }
        #expect(throws: ImagingError.unsupportedFormat) { try decoder.decode(Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8)) }
        #expect(throws: ImagingError.unsupportedFormat) { try decoder.decode([UInt8](repeating: 0, count: 4096)) }
    }

    @Test("a PNG named .jpg decodes as PNG; a missing file is unreadable")
    func fileNamesAreIgnored() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("argus-imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = TestImages.gradient()
        let path = dir.appendingPathComponent("photo.jpg").path
        try Data(try ImageEncoder.png(source)).write(to: URL(fileURLWithPath: path))
        #expect(try decoder.decode(fileAt: path) == source)  // PNG is lossless

        let text = dir.appendingPathComponent("notes.png").path
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: ImagingError.unsupportedFormat) { try decoder.decode(fileAt: text) }
        #expect(throws: ImagingError.self) { try decoder.decode(fileAt: dir.appendingPathComponent("missing.jpg").path) }
        #expect(throws: ImagingError.self) { try decoder.decode(fileAt: dir.path) }  // a directory
    }

    @Test("random garbage after a valid magic never crashes", arguments: [ImageFormat.jpeg, .png])
    func fuzz(format: ImageFormat) throws {
        var rng = SystemRandomNumberGenerator()
        let valid = format == .jpeg ? try ImageEncoder.jpeg(TestImages.gradient()) : try ImageEncoder.png(TestImages.gradient())
        for _ in 0..<300 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                bytes[Int.random(in: 8..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = Array(bytes[0..<Int.random(in: 8..<bytes.count, using: &rng)]) }
            // Either a typed error or an image of the declared size; never a crash.
            if let image = try? decoder.decode(bytes) {
                #expect(image.pixels.count == image.width * image.height * 3)
            }
        }
    }
}
