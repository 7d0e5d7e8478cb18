/// A fast 64-bit non-cryptographic checksum for gallery files (detects corruption, not tampering).
///
/// Four independent multiply–rotate lanes over 32-byte stripes keep the loop at memory speed;
/// the tail and length are folded in and the result is avalanched.
enum Checksum64 {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9

    @inline(__always)
    private static func round(_ lane: UInt64, _ word: UInt64) -> UInt64 {
        let mixed = lane &+ word &* p2
        return ((mixed << 31) | (mixed >> 33)) &* p1
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var l0 = seed &+ p1 &+ p2, l1 = seed &+ p2, l2 = seed, l3 = seed &- p1
        let n = bytes.count
        var offset = 0
        while offset + 32 <= n {
            l0 = round(l0, bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
            l1 = round(l1, bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian)
            l2 = round(l2, bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self).littleEndian)
            l3 = round(l3, bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self).littleEndian)
            offset += 32
        }
        var h = ((l0 << 1) | (l0 >> 63)) &+ ((l1 << 7) | (l1 >> 57)) &+ ((l2 << 12) | (l2 >> 52)) &+ ((l3 << 18) | (l3 >> 46))
        h = (h ^ round(0, l0)) &* p1 &+ p3
        h = (h ^ round(0, l1)) &* p1 &+ p3
        h = (h ^ round(0, l2)) &* p1 &+ p3
        h = (h ^ round(0, l3)) &* p1 &+ p3
        h &+= UInt64(n)
        while offset < n {
            h = (h ^ (UInt64(bytes[offset]) &* p3)) &* p1
            h = (h << 11) | (h >> 53)
            offset += 1
        }
        h ^= h >> 33
        h &*= p2
        h ^= h >> 29
        h &*= p3
        h ^= h >> 32
        return h
    }
}
