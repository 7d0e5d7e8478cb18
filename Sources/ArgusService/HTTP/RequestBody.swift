public import Foundation
public import Hummingbird
import NIOCore

/// Reading bodies: capped while streaming (413 `payload_too_large` past the cap, chunked or not),
/// decoded into the route's typed request, or to an image. Malformed bodies are 400
/// `invalid_request` naming the field and what was expected.
struct RequestBody: Sendable {
    let maxBytes: Int
    /// The whole body must arrive within this many seconds, however its bytes are spaced (408).
    var timeout: Double = 60

    struct TimedOut: Error {}

    func bytes(_ request: Request) async throws -> [UInt8] {
        do {
            let (body, limit, seconds) = (request.body, maxBytes, timeout)
            let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await body.collect(upTo: limit) }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let buffer = first else { throw TimedOut() }
                return buffer
            }
            return Array(buffer.readableBytesView)
        } catch is TimedOut {
            throw APIError.requestTimeout(timeout)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(maxBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge(maxBytes)
        }
    }

    /// A JSON object body decoded as `T` (an empty body reads as `{}`).
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let contentType = request.headers[.contentType] ?? "application/json"
        guard contentType.lowercased().hasPrefix("application/json") else { throw APIError.unsupportedMediaType(contentType) }
        return try Self.decode(type, json: try await bytes(request))
    }

    static func decode<T: Decodable>(_ type: T.Type, json: [UInt8]) throws -> T {
        let data = json.isEmpty ? Data("{}".utf8) : Data(json)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.invalidRequest(Self.describe(error))
        } catch {
            throw APIError.invalidRequest("The body is not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.reduce(into: "") { out, key in
                if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
            }
            return p.isEmpty ? "the body" : p
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(Self.name(of: type))"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(Self.name(of: type)), got null"
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "The body is not a valid JSON object" : "\(path(context)): invalid value"
        @unknown default: return "The body is not valid"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is [String].Type: return "an array of strings"
        default: return type == [String: Any].self ? "an object" : "\(type)"
        }
    }

    /// A photo sent as a raw `image/jpeg`/`image/png` body, a multipart form (its file part and
    /// small text fields), or a JSON object with a base64 `image` field.
    struct ImageInput: Sendable {
        var bytes: [UInt8]
        /// Text fields sent beside the image (multipart parts or JSON members).
        var fields: EnrollmentFields
    }

    /// The optional fields of an enrolment body.
    struct EnrollmentFields: Decodable, Sendable {
        var image: String?
        var gallery: String?
        var dedup: Bool?
        var largestFace: Bool?
        var minFaceSize: Int?
        enum CodingKeys: String, CodingKey { case image, gallery, dedup, largestFace = "largest_face", minFaceSize = "min_face_size" }
    }

    func image(_ request: Request) async throws -> ImageInput {
        let original = request.headers[.contentType] ?? ""
        let type = original.lowercased()
        if type.hasPrefix("image/jpeg") || type.hasPrefix("image/png") {
            return ImageInput(bytes: try await bytes(request), fields: .init())
        }
        if type.hasPrefix("multipart/form-data") {
            let form: MultipartForm
            do {
                form = try MultipartForm(body: try await bytes(request), boundary: try MultipartForm.boundary(contentType: original))
            } catch let failure as MultipartForm.Failure {
                switch failure {
                case .badBoundary: throw APIError.invalidRequest("multipart body needs a boundary of 1…\(MultipartForm.maxBoundaryLength) characters")
                case .tooManyParts: throw APIError.invalidRequest("multipart body has more than \(MultipartForm.maxParts) parts")
                case .malformed(let why): throw APIError.invalidRequest("malformed multipart body: \(why)")
                }
            }
            guard let file = form.file else { throw APIError.invalidRequest("multipart body has no file part") }
            var fields = EnrollmentFields()
            fields.gallery = form.fields["gallery"]
            for (name, path) in [("dedup", \EnrollmentFields.dedup), ("largest_face", \EnrollmentFields.largestFace)] {
                guard let text = form.fields[name] else { continue }
                guard let value = Bool(text.lowercased()) else { throw APIError.invalidRequest("\(name): expected true or false") }
                fields[keyPath: path] = value
            }
            if let text = form.fields["min_face_size"] {
                guard let value = Int(text) else { throw APIError.invalidRequest("min_face_size: expected an integer 0…4096") }
                fields.minFaceSize = value
            }
            return ImageInput(bytes: file, fields: fields)
        }
        if type.isEmpty || type.hasPrefix("application/json") {
            var fields = try Self.decode(EnrollmentFields.self, json: try await bytes(request))
            let bytes = try Self.base64Image(fields.image, "image")
            fields.image = nil
            return ImageInput(bytes: bytes, fields: fields)
        }
        throw APIError.unsupportedMediaType(original)
    }

    /// The bytes of a base64 (or data: URL) image field.
    static func base64Image(_ encoded: String?, _ field: String) throws -> [UInt8] {
        guard let encoded else { throw APIError.invalidRequest("\(field) (base64) is required") }
        guard let data = Data(base64Encoded: stripDataURL(encoded), options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw APIError.invalidRequest("\(field) is not valid base64")
        }
        return [UInt8](data)
    }

    static func stripDataURL(_ s: String) -> String {
        if s.hasPrefix("data:"), let comma = s.firstIndex(of: ",") { return String(s[s.index(after: comma)...]) }
        return s
    }
}
