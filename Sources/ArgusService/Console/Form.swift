import Foundation

/// An `application/x-www-form-urlencoded` body: fields by name (repeated names keep every value).
struct Form: Sendable {
    static let maxBytes = 64 << 10
    private(set) var values: [String: [String]] = [:]

    init(_ body: [UInt8]) {
        for pair in body.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.map({ Self.decode($0) }), !name.isEmpty else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            // NUL and other control characters are never part of an e-mail, a name or a password:
            // such a field reads as empty (SQLite would cut a text at a NUL that Swift keeps).
            values[name, default: []].append(value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } ? "" : value)
        }
    }

    subscript(_ name: String) -> String? { values[name]?.first }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// `+` is a space; `%XX` a byte; invalid UTF-8 becomes U+FFFD.
    static func decode(_ raw: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i != raw.endIndex {
            let c = raw[i]
            if c == UInt8(ascii: "+") {
                out.append(0x20)
            } else if c == UInt8(ascii: "%"), let h = raw.index(i, offsetBy: 1, limitedBy: raw.endIndex), h != raw.endIndex,
                      let l = raw.index(h, offsetBy: 1, limitedBy: raw.endIndex), l != raw.endIndex,
                      let hi = hex(raw[h]), let lo = hex(raw[l]) {
                out.append(hi << 4 | lo)
                i = l
            } else {
                out.append(c)
            }
            i = raw.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Cookies of a request, by name.
enum Cookies {
    static func parse(_ header: String?) -> [String: String] {
        var out: [String: String] = [:]
        for part in (header ?? "").split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[kv[0].trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
