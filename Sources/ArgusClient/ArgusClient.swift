public import Foundation
#if canImport(FoundationNetworking)
public import FoundationNetworking
#endif

/// A client of the Argus API (URLSession). With a `signer`, every state-changing request goes
/// through the user-action flow by itself (direct signing); `initAction` and `completeAction`
/// are the two halves for delegated signing (the device or the KMS signs between them).
public struct ArgusClient: Sendable {
    public enum Credential: Sendable {
        /// `sk_…` or `rk_…`.
        case key(String)
        /// `tok_…`, a session token.
        case sessionToken(String)
        var header: String {
            switch self {
            case .key(let k): return "Bearer \(k)"
            case .sessionToken(let t): return "Bearer \(t)"
            }
        }
    }

    /// An API error: the HTTP status and the body's `error` object.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let status: Int
        public let type: String
        public let code: String
        public let message: String
        public var description: String { "HTTP \(status) \(code): \(message)" }
    }

    /// A response: status and JSON body (as JSONSerialization reads it).
    public struct Reply: @unchecked Sendable {
        // @unchecked: an immutable value holding JSONSerialization's immutable values.
        public let status: Int
        public let json: [String: Any]
        public let headers: [String: String]
    }

    public let baseURL: URL
    public let credential: Credential
    public let signer: Signer?
    private let session: URLSession

    public init(baseURL: URL, credential: Credential, signer: Signer? = nil, session: URLSession = .shared) {
        self.baseURL = baseURL
        self.credential = credential
        self.signer = signer
        self.session = session
    }

    static let stateChanging: Set<String> = ["POST", "PUT", "PATCH", "DELETE"]
    static let actionRoutes: Set<String> = ["/v1/auth/action/init", "/v1/auth/action"]

    /// Sends a request; with a signer, state-changing requests carry a fresh user action.
    /// - Parameters:
    ///   - path: the request target, path and query (`/v1/subjects?limit=5`).
    ///   - headers: extra headers (`x-argus-subject-key`, …).
    /// - Throws: `Failure` for a non-2xx answer.
    @discardableResult
    public func send(_ method: String, _ path: String, json: [String: any Sendable]? = nil, body: Data? = nil, contentType: String? = nil,
                     headers: [String: String] = [:]) async throws -> Reply {
        let payload: Data
        var type = contentType
        if let json {
            payload = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            type = "application/json"
        } else {
            payload = body ?? Data()
        }
        var extra = headers
        if let signer, Self.stateChanging.contains(method), !Self.actionRoutes.contains(path.split(separator: "?").first.map(String.init) ?? path) {
            let challenge = try await initAction(method: method, path: path, body: payload)
            let signature = try signer.sign(challenge.signedBytes)
            extra["x-argus-user-action"] = try await completeAction(challengeID: challenge.id, signerID: signer.id, signature: signature)
        }
        return try await raw(method, path, body: payload, contentType: type, headers: extra)
    }

    /// A challenge for one request, to be signed.
    public struct Challenge: Sendable {
        public let id: String
        public let challenge: String
        public let method: String
        public let path: String
        public let bodySHA256: String
        public let expiresAt: String
        /// The exact bytes to sign.
        public var signedBytes: Data { Self.signedBytes(challenge: challenge, method: method, path: path, bodySHA256: bodySHA256) }

        /// `{"challenge":…,"method":…,"path":…,"body_sha256":…}`: keys in that order, no spaces, values verbatim.
        public static func signedBytes(challenge: String, method: String, path: String, bodySHA256: String) -> Data {
            Data("{\"challenge\":\"\(challenge)\",\"method\":\"\(method)\",\"path\":\"\(path)\",\"body_sha256\":\"\(bodySHA256)\"}".utf8)
        }
    }

    /// The first half of a user action: the challenge for `method path` with this body.
    public func initAction(method: String, path: String, body: Data) async throws -> Challenge {
        let digest = SHA256Hex.digest(body)
        let reply = try await raw("POST", "/v1/auth/action/init", body: try JSONSerialization.data(withJSONObject: [
            "method": method, "path": path, "body_sha256": digest]), contentType: "application/json", headers: [:])
        guard let id = reply.json["challenge_id"] as? String, let challenge = reply.json["challenge"] as? String else {
            throw Failure(status: reply.status, type: "client_error", code: "bad_reply", message: "no challenge in \(reply.json)")
        }
        return Challenge(id: id, challenge: challenge, method: method, path: path, bodySHA256: digest,
                         expiresAt: reply.json["expires_at"] as? String ?? "")
    }

    /// The second half: the signed challenge becomes a single-use user action (`ua_…`).
    public func completeAction(challengeID: String, signerID: String, signature: Data) async throws -> String {
        let reply = try await raw("POST", "/v1/auth/action", body: try JSONSerialization.data(withJSONObject: [
            "challenge_id": challengeID, "signer_id": signerID, "signature": Base64URL.encode(signature)]),
                                  contentType: "application/json", headers: [:])
        guard let action = reply.json["user_action"] as? String else {
            throw Failure(status: reply.status, type: "client_error", code: "bad_reply", message: "no user_action in \(reply.json)")
        }
        return action
    }

    /// One HTTP exchange, as is.
    public func raw(_ method: String, _ path: String, body: Data, contentType: String?, headers: [String: String]) async throws -> Reply {
        guard let url = URL(string: path, relativeTo: baseURL) else {
            throw Failure(status: 0, type: "client_error", code: "bad_path", message: "cannot make a URL of \(path)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue(credential.header, forHTTPHeaderField: "Authorization")
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if !body.isEmpty || Self.stateChanging.contains(method) { request.httpBody = body }
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        let status = http?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        var fields: [String: String] = [:]
        for (k, v) in http?.allHeaderFields ?? [:] { if let k = k as? String, let v = v as? String { fields[k.lowercased()] = v } }
        guard (200..<300).contains(status) else {
            let error = json["error"] as? [String: Any]
            throw Failure(status: status, type: error?["type"] as? String ?? "", code: error?["code"] as? String ?? "",
                          message: error?["message"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self))
        }
        return Reply(status: status, json: json, headers: fields)
    }

    // Conveniences for the common calls.

    public func ping() async throws -> Reply { try await send("GET", "/v1/ping") }

    public func createSubject(externalID: String? = nil, clientCustody: Bool = false) async throws -> Reply {
        var body: [String: any Sendable] = [:]
        if let externalID { body["external_id"] = externalID }
        if clientCustody { body["key_custody"] = "client" }
        return try await send("POST", "/v1/subjects", json: body)
    }

    public func enroll(subject: String, jpeg: Data) async throws -> Reply {
        try await send("POST", "/v1/subjects/\(subject)/faces", body: jpeg, contentType: "image/jpeg")
    }

    /// 1:1 against a subject; `subjectKey` (32 bytes) for client-custody subjects.
    public func verify(subject: String, image: Data, subjectKey: Data? = nil) async throws -> Reply {
        var headers: [String: String] = [:]
        if let subjectKey { headers["x-argus-subject-key"] = Base64URL.encode(subjectKey) }
        return try await send("POST", "/v1/verify", json: ["subject_id": subject, "image": image.base64EncodedString()], headers: headers)
    }

    public func identify(image: Data, topK: Int = 5) async throws -> Reply {
        try await send("POST", "/v1/identify", json: ["image": image.base64EncodedString(), "top_k": topK])
    }

    public func deleteSubject(_ id: String) async throws -> Reply { try await send("DELETE", "/v1/subjects/\(id)") }
}
