import Foundation

/// multipart/form-data, parsed in one pass in time linear in the body: every delimiter and header
/// end is found with Knuth–Morris–Pratt (O(n + m), whatever the bytes) on the contiguous body,
/// each search starts where the last ended, and the boundary (RFC 2046: 1…70 characters), the part
/// count and each header block are bounded, so a hostile body costs at most a few passes over it.
struct MultipartForm: Sendable {
    static let maxBoundaryLength = 70
    static let maxParts = 32
    static let maxHeaderBytes = 8 << 10
    static let maxFieldBytes = 1 << 10

    /// The first part that carries a file (a `filename`, an `image/…` type or the name `image`).
    var file: [UInt8]?
    /// Small text parts by name (later duplicates are ignored).
    var fields: [String: String] = [:]

    enum Failure: Error, Equatable {
        case badBoundary
        case malformed(String)
        case tooManyParts
    }

    /// The boundary parameter of a `multipart/form-data` content type, quoted or not.
    static func boundary(contentType: String) throws(Failure) -> String {
        var found: String?
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            found = value
        }
        guard let boundary = found, (1...maxBoundaryLength).contains(boundary.utf8.count),
              boundary.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw .badBoundary }
        return boundary
    }

    init(body: [UInt8], boundary: String) throws(Failure) {
        let dash = Array("--\(boundary)".utf8)
        let delimiter = Array("\r\n--\(boundary)".utf8)
        let headerEnd = Array("\r\n\r\n".utf8)
        // The first delimiter may open the body or follow a preamble.
        var position: Int
        if body.starts(with: dash) {
            position = dash.count
        } else if let first = Self.find(delimiter, in: body, from: 0, to: body.count) {
            position = first + delimiter.count
        } else {
            throw .malformed("no boundary delimiter in the body")
        }
        var parts = 0
        while true {
            // After a delimiter: "--" closes the body; otherwise optional whitespace then CRLF.
            if position + 1 < body.count, body[position] == 0x2D, body[position + 1] == 0x2D { return }
            while position < body.count, body[position] == 0x20 || body[position] == 0x09 { position += 1 }
            guard position + 1 < body.count, body[position] == 0x0D, body[position + 1] == 0x0A else {
                throw .malformed("a boundary delimiter is not followed by CRLF")
            }
            position += 2
            guard let end = Self.find(delimiter, in: body, from: position, to: body.count) else {
                throw .malformed("the body ends inside a part (no closing boundary)")
            }
            parts += 1
            guard parts <= Self.maxParts else { throw .tooManyParts }
            try take(body, from: position, to: end, headerEnd: headerEnd)
            position = end + delimiter.count
        }
    }

    private mutating func take(_ body: [UInt8], from start: Int, to end: Int, headerEnd: [UInt8]) throws(Failure) {
        let limit = min(end, start + Self.maxHeaderBytes)
        let headersEnd: Int
        if end - start >= 2, body[start] == 0x0D, body[start + 1] == 0x0A {
            headersEnd = start  // no headers at all
        } else if let found = Self.find(headerEnd, in: body, from: start, to: min(end, limit + headerEnd.count)) {
            headersEnd = found + 2
        } else {
            throw .malformed("a part's headers are missing, unterminated or longer than \(Self.maxHeaderBytes) bytes")
        }
        let headers = String(decoding: body[start..<headersEnd], as: UTF8.self).lowercased()
        let contentStart = headersEnd + 2
        let isFile = headers.contains("filename=") || headers.contains("content-type: image/") || headers.contains("name=\"image\"")
        if isFile {
            if file == nil { file = Array(body[contentStart..<end]) }
            return
        }
        guard let name = Self.name(in: String(decoding: body[start..<headersEnd], as: UTF8.self)), fields[name] == nil,
              end - contentStart <= Self.maxFieldBytes else { return }
        fields[name] = String(decoding: body[contentStart..<end], as: UTF8.self)
    }

    /// The `name` parameter of a part's Content-Disposition header.
    private static func name(in headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for parameter in line.split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "name" else { continue }
                return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The first index ≥ `from` where `needle` starts and ends at or before `to` (KMP).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to: Int) -> Int? {
        let m = needle.count
        guard from >= 0, to <= haystack.count, to - from >= m, m > 0 else { return nil }
        // failure[i]: length of the longest proper border of needle[0...i].
        var failure = [Int](repeating: 0, count: m)
        var k = 0
        for i in 1..<max(1, m) where m > 1 {
            while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            failure[i] = k
        }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                var q = 0
                for i in from..<to {
                    while q > 0 && h[i] != n[q] { q = failure[q - 1] }
                    if h[i] == n[q] { q += 1 }
                    if q == m { return i - m + 1 }
                }
                return nil
            }
        }
    }
}
