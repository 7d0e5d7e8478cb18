import ArgusImaging
public import Foundation
public import Hummingbird

/// Reading bodies: capped while streaming, decoded to JSON objects or to images.
struct RequestBody {
    let maxBytes: Int

    func bytes(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: maxBytes)
            return Data(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge(maxBytes)
        }
    }

    /// A JSON object body (an empty body reads as `{}`).
    func json(_ request: Request) async throws -> [String: Any] {
        let type = request.headers[.contentType] ?? "application/json"
        guard type.lowercased().hasPrefix("application/json") else { throw APIError.unsupportedMediaType(type) }
        let data = try await bytes(request)
        if data.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError.invalidRequest("The body is not a JSON object")
        }
        return object
    }

    /// An image from a raw `image/jpeg`/`image/png` body, a multipart form (the first file part),
    /// or a JSON object's base64 `field`. Returns the bytes and any other JSON fields.
    func image(_ request: Request, field: String = "image") async throws -> (bytes: [UInt8], fields: [String: Any]) {
        let type = (request.headers[.contentType] ?? "").lowercased()
        if type.hasPrefix("image/jpeg") || type.hasPrefix("image/png") {
            return ([UInt8](try await bytes(request)), [:])
        }
        if type.hasPrefix("multipart/form-data") {
            guard let boundary = type.components(separatedBy: "boundary=").last?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")),
                  !boundary.isEmpty else { throw APIError.invalidRequest("multipart body without a boundary") }
            let original = request.headers[.contentType] ?? ""
            let exact = original.components(separatedBy: "boundary=").last?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) ?? boundary
            guard let part = Multipart.firstFile(in: try await bytes(request), boundary: exact) else {
                throw APIError.invalidRequest("multipart body has no file part")
            }
            return ([UInt8](part), [:])
        }
        if type.isEmpty || type.hasPrefix("application/json") {
            let object = try await json(request)
            guard let encoded = object[field] as? String else { throw APIError.invalidRequest("\(field) (base64) is required") }
            guard let data = Data(base64Encoded: Self.stripDataURL(encoded), options: .ignoreUnknownCharacters) else {
                throw APIError.invalidRequest("\(field) is not valid base64")
            }
            return ([UInt8](data), object)
        }
        throw APIError.unsupportedMediaType(type)
    }

    static func base64Image(_ object: [String: Any], _ field: String) throws -> [UInt8] {
        guard let encoded = object[field] as? String else { throw APIError.invalidRequest("\(field) (base64) is required") }
        guard let data = Data(base64Encoded: stripDataURL(encoded), options: .ignoreUnknownCharacters) else {
            throw APIError.invalidRequest("\(field) is not valid base64")
        }
        return [UInt8](data)
    }

    static func stripDataURL(_ s: String) -> String {
        if s.hasPrefix("data:"), let comma = s.firstIndex(of: ",") { return String(s[s.index(after: comma)...]) }
        return s
    }
}

/// The one piece of multipart/form-data parsing the API needs: the first part that carries a file.
enum Multipart {
    static func firstFile(in body: Data, boundary: String) -> Data? {
        let delimiter = Data("--\(boundary)".utf8)
        var parts: [Data] = []
        var searchStart = body.startIndex
        var previous: Data.Index?
        while let range = body.range(of: delimiter, in: searchStart..<body.endIndex) {
            if let p = previous { parts.append(body[p..<range.lowerBound]) }
            previous = range.upperBound
            searchStart = range.upperBound
        }
        for part in parts {
            guard let headerEnd = part.range(of: Data("\r\n\r\n".utf8)) else { continue }
            let headers = String(decoding: part[part.startIndex..<headerEnd.lowerBound], as: UTF8.self).lowercased()
            guard headers.contains("filename=") || headers.contains("content-type: image/") || headers.contains("name=\"image\"") else { continue }
            var content = part[headerEnd.upperBound...]
            if content.suffix(2) == Data("\r\n".utf8) { content = content.dropLast(2) }
            return Data(content)
        }
        return nil
    }
}
