import Testing
@testable import ArgusNN

@Suite("dlib serialization primitives (spec §1 worked examples)")
struct DlibReaderTests {
    @Test("variable-length integers", arguments: [
        ([0x01, 0x00], 0), ([0x01, 0x50], 80), ([0x02, 0xF4, 0x01], 500), ([0x02, 0xC0, 0x04], 1216),
        ([0x81, 0x0A], -10), ([0x81, 0x11], -17),
    ] as [([UInt8], Int64)])
    func integers(bytes: [UInt8], value: Int64) throws {
        var r = DlibReader(bytes: bytes)
        #expect(try r.integer() == value)
        #expect(r.isAtEnd)
    }

    @Test("floats: mantissa first, then exponent", arguments: [
        ([0x03, 0x62, 0x90, 0xF5, 0x81, 0x11], 122.78199768066406),
        ([0x01, 0x10, 0x81, 0x04], 1.0),
        ([0x01, 0x80, 0x81, 0x07], 1.0),
        ([0x83, 0x0C, 0x90, 0xB2, 0x81, 0x18], -0.6975104808807373),
        ([0x07, 0x8C, 0x6A, 0x54, 0xF2, 0x50, 0xA6, 0x15, 0x81, 0x36], 0.3382761351109955),
    ] as [([UInt8], Double)])
    func floats(bytes: [UInt8], value: Double) throws {
        var r = DlibReader(bytes: bytes)
        #expect(try r.double() == value)
    }

    @Test("special exponents, bools, strings, column vectors")
    func others() throws {
        var r = DlibReader(bytes: [0x01, 0x00, 0x02, 0x00, 0x7D, 0x31, 0x30, 0x01, 0x03, 0x61, 0x62, 0x63, 0x81, 0x02, 0x81, 0x01,
                                   0x01, 0x10, 0x81, 0x04, 0x01, 0x00, 0x01, 0x00])
        #expect(try r.double() == .infinity)  // exponent 32000
        #expect(try r.bool() == true)
        #expect(try r.bool() == false)
        #expect(try r.string() == "abc")
        #expect(try r.floatColumn("v") == [1, 0])
        #expect(r.isAtEnd)
    }

    @Test("bad bytes give typed errors with the offset")
    func errors() {
        var bad = DlibReader(bytes: [0x09, 0x00])
        #expect(throws: ModelFileError.self) { try bad.integer() }  // 9 magnitude bytes
        var zero = DlibReader(bytes: [0x00])
        #expect(throws: ModelFileError.self) { try zero.integer() }
        var short = DlibReader(bytes: [0x04, 0x01, 0x02])
        #expect(throws: ModelFileError.truncated(offset: 1, expected: "integer")) { try short.integer() }
        var ascii = DlibReader(bytes: [0x31, 0x2E, 0x35])
        #expect(throws: ModelFileError.self) { try ascii.double() }
        var notBool = DlibReader(bytes: [0x32])
        #expect(throws: ModelFileError.malformed(offset: 0, detail: "bool byte 50 reading bool")) { try notBool.bool() }
        var hugeTensor = DlibReader(bytes: [0x01, 0x02, 0x04, 0xFF, 0xFF, 0xFF, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01])
        #expect(throws: ModelFileError.self) { try hugeTensor.tensor("t") }
    }
}
