import Foundation

/// Reads dlib's portable serialization (spec §1): variable-length integers, floats as
/// (mantissa, exponent) pairs, '0'/'1' bools, length-prefixed strings, raw-float32 tensors.
/// Every read is bounds-checked and fails with a typed error naming the byte offset.
public struct DlibReader {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(contentsOf path: String) throws(ModelFileError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "read failed" : "no such file")
        }
        self.init(bytes: [UInt8](data))
    }

    public var isAtEnd: Bool { offset == bytes.count }
    public var remaining: Int { bytes.count - offset }

    public mutating func byte(_ what: String = "byte") throws(ModelFileError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset, expected: what) }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A control byte (bit 7 = sign, bits 0–3 = byte count 1…8, bits 4–6 zero), then the magnitude little-endian.
    public mutating func integer(_ what: String = "integer") throws(ModelFileError) -> Int64 {
        let start = offset
        let control = try byte(what)
        let count = Int(control & 0x0F)
        guard count >= 1, count <= 8, control & 0x70 == 0 else {
            throw .malformed(offset: start, detail: "bad integer control byte 0x\(String(control, radix: 16)) reading \(what)")
        }
        guard remaining >= count else { throw .truncated(offset: offset, expected: what) }
        var magnitude: UInt64 = 0
        for i in 0..<count { magnitude |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += count
        guard magnitude <= UInt64(Int64.max) else { throw .malformed(offset: start, detail: "integer overflows reading \(what)") }
        return control & 0x80 != 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// An integer that must fit `Int` and lie in `range`.
    public mutating func int(_ what: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(ModelFileError) -> Int {
        let start = offset
        let value = try integer(what)
        guard let v = Int(exactly: value), range.contains(v) else {
            throw .malformed(offset: start, detail: "\(what) = \(value) is outside \(range)")
        }
        return v
    }

    /// Mantissa first, then exponent (the bytes follow dlib's code, not its comment).
    public mutating func double(_ what: String = "float") throws(ModelFileError) -> Double {
        guard offset < bytes.count else { throw .truncated(offset: offset, expected: what) }
        guard bytes[offset] & 0x70 == 0 else {
            throw .malformed(offset: offset, detail: "legacy ASCII float encoding reading \(what)")
        }
        let mantissa = try integer(what)
        let exponent = try integer(what)
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        default:
            guard abs(exponent) < 2000 else { throw .malformed(offset: offset, detail: "float exponent \(exponent) reading \(what)") }
            return Double(sign: mantissa < 0 ? .minus : .plus, exponent: Int(exponent), significand: Double(mantissa.magnitude))
        }
    }

    public mutating func float(_ what: String = "float") throws(ModelFileError) -> Float {
        Float(try double(what))
    }

    public mutating func bool(_ what: String = "bool") throws(ModelFileError) -> Bool {
        let start = offset
        switch try byte(what) {
        case UInt8(ascii: "1"): return true
        case UInt8(ascii: "0"): return false
        case let b: throw .malformed(offset: start, detail: "bool byte \(b) reading \(what)")
        }
    }

    public mutating func string(_ what: String = "string") throws(ModelFileError) -> String {
        let length = try int("\(what) length", in: 0...4096)
        guard remaining >= length else { throw .truncated(offset: offset, expected: what) }
        defer { offset += length }
        return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    /// Reads a string and requires one of `allowed`.
    @discardableResult
    public mutating func expectString(_ allowed: String...) throws(ModelFileError) -> String {
        let start = offset
        let s = try string("tag")
        guard allowed.contains(s) else {
            throw .malformed(offset: start, detail: "expected \(allowed.joined(separator: " or ")), found \"\(s.prefix(40))\"")
        }
        return s
    }

    public mutating func expectInt(_ value: Int, _ what: String) throws(ModelFileError) {
        let start = offset
        let v = try integer(what)
        guard v == value else { throw .malformed(offset: start, detail: "expected \(what) = \(value), found \(v)") }
    }

    /// A `resizable_tensor`: version 2, shape (n, k, nr, nc), then raw little-endian float32 values.
    public mutating func tensor(_ what: String) throws(ModelFileError) -> (shape: [Int], values: [Float]) {
        try expectInt(2, "\(what) tensor version")
        var shape = [Int]()
        for _ in 0..<4 { shape.append(try int("\(what) dimension", in: 0...100_000_000)) }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= remaining / 4 else { throw .truncated(offset: offset, expected: "\(what) data") }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + 4 * count)]))
            }
        }
        // The payload is little-endian; this only matters on a big-endian host.
        if UInt32(littleEndian: 1) != 1 {
            for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        }
        offset += 4 * count
        return (shape, values)
    }

    /// An `alias_tensor`: version 1 and a shape, no data.
    public mutating func aliasTensor(_ what: String) throws(ModelFileError) -> [Int] {
        try expectInt(1, "\(what) alias version")
        var shape = [Int]()
        for _ in 0..<4 { shape.append(try int("\(what) dimension", in: 0...100_000_000)) }
        return shape
    }

    /// A `matrix<float,0,1>`: dimensions written negated, then rows·cols portable floats.
    public mutating func floatColumn(_ what: String) throws(ModelFileError) -> [Float] {
        let rows = try int("\(what) rows", in: -10_000_000...10_000_000).magnitude
        let cols = try int("\(what) cols", in: -10_000_000...10_000_000).magnitude
        let count = Int(rows * cols)
        guard count <= remaining / 2 else { throw .truncated(offset: offset, expected: what) }
        var out = [Float]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try float(what)) }
        return out
    }
}
