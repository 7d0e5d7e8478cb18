/// An id held in 24 bytes with no heap storage: its UTF-8 bytes 0..<23 in place, byte 23 its length.
///
/// Every id the store issues (`face_…`, `sub_…`: 21 or 22 bytes) fits, so a million faces hold no
/// string objects at all (a Swift `String` over 15 bytes is a heap object of 64 bytes, and each face
/// held four maps of them). A longer id is interned by `IDNames` and held by its number: the tag byte
/// is then `InlineID.interned` and the first word the number, so equal ids are equal keys either way.
struct InlineID: Hashable, Sendable {
    private var w0: UInt64 = 0
    private var w1: UInt64 = 0
    private var w2: UInt64 = 0

    static let capacity = 23
    static let interned: UInt8 = 0xFF

    private init() {}

    static func == (a: InlineID, b: InlineID) -> Bool { a.w0 == b.w0 && a.w1 == b.w1 && a.w2 == b.w2 }

    /// One word through the seeded hasher instead of three: the ids the store issues are random,
    /// and a start-up spent a fifth of its time in hashing (three to four lookups per face).
    func hash(into hasher: inout Hasher) {
        hasher.combine((w0 &+ (w1 &* 0x9E37_79B9_7F4A_7C15)) ^ (w2 &* 0xC2B2_AE3D_27D4_EB4F).rotated(by: 31))
    }

    /// The id in place; nil when it is longer than 23 bytes.
    init?(inline id: String) {
        var id = id
        var key = InlineID()
        let fits = id.withUTF8 { bytes -> Bool in
            guard bytes.count <= Self.capacity else { return false }
            withUnsafeMutableBytes(of: &key) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(bytes))
                raw[23] = UInt8(bytes.count)
            }
            return true
        }
        guard fits else { return nil }
        self = key
    }

    /// The key of the `number`th interned (long) id.
    init(interned number: UInt32) {
        var key = InlineID()
        key.w0 = UInt64(number)
        withUnsafeMutableBytes(of: &key) { $0[23] = Self.interned }
        self = key
    }

    private var tag: UInt8 { withUnsafeBytes(of: self) { $0[23] } }

    /// The interned id's number, nil for an id held in place.
    var internedNumber: UInt32? { tag == Self.interned ? UInt32(truncatingIfNeeded: w0) : nil }

    /// The id held in place (callers check `internedNumber` first).
    var inlineString: String {
        withUnsafeBytes(of: self) { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<Int(raw[23])]), as: UTF8.self)
        }
    }
}

extension UInt64 {
    fileprivate func rotated(by n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}

/// Ids too long to hold in place, each numbered once (numbers are never reused: only ids from
/// outside the store are long, and a gallery sees few of them).
struct IDNames: Sendable {
    private var numbers: [String: UInt32] = [:]
    private var names: [String] = []

    /// The key of `id`, interning a long one when `inserting`; nil for a long id never seen.
    mutating func key(_ id: String, inserting: Bool) -> InlineID? {
        if let key = InlineID(inline: id) { return key }
        if let n = numbers[id] { return InlineID(interned: n) }
        guard inserting else { return nil }
        let n = UInt32(names.count)
        numbers[id] = n
        names.append(id)
        return InlineID(interned: n)
    }

    /// The key of `id` if it can be present.
    func existingKey(_ id: String) -> InlineID? {
        if let key = InlineID(inline: id) { return key }
        return numbers[id].map(InlineID.init(interned:))
    }

    func string(_ key: InlineID) -> String {
        if let n = key.internedNumber { return names[Int(n)] }
        return key.inlineString
    }
}
