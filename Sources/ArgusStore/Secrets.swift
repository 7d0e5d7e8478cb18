import Crypto
public import Foundation

/// Random secrets and how they are stored: only SHA-256 digests are kept (the secrets carry
/// ≥ 192 random bits, so a fast hash is not guessable), compared in constant time.
public enum Secrets {
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Base62 of `bytes` random bytes (24 bytes = 192 bits → 33 characters).
    public static func random(bytes: Int = 24) -> String {
        base62(randomBytes(bytes))
    }

    public static func base62(_ bytes: [UInt8]) -> String {
        if bytes.count <= 15 { return base62Short(bytes) }
        // Repeated division of the big-endian number by 62.
        var number = bytes.drop(while: { $0 == 0 }).map { UInt32($0) }
        var digits: [UInt8] = []
        while !number.isEmpty {
            var remainder: UInt32 = 0
            var next: [UInt32] = []
            for d in number {
                let value = remainder * 256 + d
                let q = value / 62
                remainder = value % 62
                if !next.isEmpty || q > 0 { next.append(q) }
            }
            digits.append(alphabet[Int(remainder)])
            number = next
        }
        // Fixed width, so every secret of a kind has the same length.
        let width = Int((Double(bytes.count) * 8 / log2(62)).rounded(.up))
        while digits.count < width { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    public static func digest(_ secret: String) -> Data { Data(SHA256.hash(data: Data(secret.utf8))) }

    public static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    /// Compares without an early exit, so the time does not reveal where two digests differ.
    public static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// `count` random bytes.
    /// `count` bytes from the system CSPRNG through swift-crypto's key generator, which draws 8
    /// bytes at a time. (Drawing a byte at a time made a syscall per byte: a fifth of the cost of
    /// writing a face.)
    public static func randomBytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }

    /// base64url without padding (RFC 4648 §5).
    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of base64url text (padding optional); nil when it is not base64url. One pass.
    public static func base64URLDecode(_ text: String) -> Data? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.utf8.count + 3)
        for c in text.utf8 {
            guard c.isBase64URL else { return nil }
            standard.append(c == 0x2D ? 0x2B : c == 0x5F ? 0x2F : c)
        }
        while standard.count % 4 != 0 { standard.append(0x3D) }
        return Data(base64Encoded: Data(standard))
    }

    public static func identifier(_ prefix: String) -> String { "\(prefix)_\(random(bytes: 12))" }

    /// Ids that sort by creation time, for rows written by the million (faces, subjects): 6 bytes of
    /// Unix milliseconds, then 7 random bytes (56 bits within a millisecond), in base62 of fixed
    /// width (18 characters; `face_…` is 23 bytes, held inline by the galleries). A B-tree index
    /// takes them at its right edge: with random ids every batch of a bulk enrolment dirtied a
    /// page per row in each of three indexes, and the writer spent its time moving pages.
    public static func sortableIdentifiers(_ prefix: String, count: Int, now: Date = Date()) -> [String] {
        guard count > 0 else { return [] }
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let random = randomBytes(7 * count)
        return (0..<count).map { i in
            var bytes = (0..<6).map { UInt8(truncatingIfNeeded: millis >> (8 * (5 - $0))) }
            bytes += random[(7 * i)..<(7 * i + 7)]
            return "\(prefix)_\(base62(bytes))"
        }
    }

    public static func sortableIdentifier(_ prefix: String) -> String { sortableIdentifiers(prefix, count: 1)[0] }

    /// `base62` for up to 15 bytes, through one 128-bit number (the general path divides a byte
    /// array per digit).
    private static func base62Short(_ bytes: [UInt8]) -> String {
        var number: UInt128 = 0
        for b in bytes { number = number << 8 | UInt128(b) }
        let width = Int((Double(bytes.count) * 8 / log2(62)).rounded(.up))
        var digits = [UInt8](repeating: alphabet[0], count: width)
        var i = width
        while number > 0 && i > 0 {
            i -= 1
            digits[i] = alphabet[Int(number % 62)]
            number /= 62
        }
        return String(decoding: digits, as: UTF8.self)
    }
}

extension UInt8 {
    var isBase64URL: Bool {
        (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || (0x30...0x39).contains(self) || self == 0x2D || self == 0x5F || self == 0x3D
    }
}
