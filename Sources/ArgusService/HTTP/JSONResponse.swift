public import Foundation
public import Hummingbird

/// JSON responses from dictionaries (keys sorted, so bodies are stable).
enum JSONResponse {
    static func make(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func iso(_ date: Date?) -> Any {
        guard let date else { return NSNull() }
        return ISO8601DateFormatter().string(from: date)
    }
}

/// Everything the controllers share: built once by `buildApplication`.
struct ServiceDependencies: Sendable {
    let configuration: ServiceConfiguration
    let store: ArgusStore
    let tokens: SessionTokens
    let galleries: GalleryRegistry
    let faces: FaceAnalysisService
    var body: RequestBody { RequestBody(maxBytes: configuration.maxBodyBytes) }
}
