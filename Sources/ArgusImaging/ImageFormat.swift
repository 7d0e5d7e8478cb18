/// The encodings Argus decodes, recognised from their first bytes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg
    case png

    /// Sniffs the format from magic bytes: `FF D8 FF` for JPEG, the 8-byte PNG signature for PNG.
    /// File names and extensions are never consulted.
    public static func sniff(_ bytes: some Collection<UInt8>) -> ImageFormat? {
        let head = Array(bytes.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}
