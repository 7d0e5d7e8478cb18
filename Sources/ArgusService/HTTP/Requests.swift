import ArgusStore
import Foundation

// The typed bodies of the JSON routes. Unknown members are ignored; a member of the wrong type is
// 400 `invalid_request` naming it (see `RequestBody.describe`).

struct CreateKeyRequest: Decodable {
    var kind: Credential.Kind?
    var mode: Mode?
    var scopes: [Scope]?
    var name: String?
}

struct RollKeyRequest: Decodable {
    /// Seconds the old key keeps working (0…2,592,000; default 0).
    var expiresIn: Int?
    enum CodingKeys: String, CodingKey { case expiresIn = "expires_in" }
}

struct CreateSubjectRequest: Decodable {
    var externalID: String?
    var keyCustody: KeyCustody?
    enum CodingKeys: String, CodingKey { case externalID = "external_id", keyCustody = "key_custody" }
}

struct AddSignerRequest: Decodable {
    var alg: String?
    var publicKeyPEM: String?
    /// The same key as a JWK (string members only: kty, crv, x, y, n, e, …).
    var jwk: [String: String]?
    enum CodingKeys: String, CodingKey { case alg, publicKeyPEM = "public_key_pem", jwk }
}

struct UpdateKeyRequest: Decodable {
    enum Setting: String, Decodable { case required, optional }
    var signedRequests: Setting?
    enum CodingKeys: String, CodingKey { case signedRequests = "signed_requests" }
}

struct ActionInitRequest: Decodable {
    var method: String?
    var path: String?
    var bodySHA256: String?
    enum CodingKeys: String, CodingKey { case method, path, bodySHA256 = "body_sha256" }
}

struct ActionCompleteRequest: Decodable {
    var challengeID: String?
    var signerID: String?
    var signature: String?
    enum CodingKeys: String, CodingKey { case challengeID = "challenge_id", signerID = "signer_id", signature }
}

struct AddAppKeyRequest: Decodable {
    var alg: String?
    var publicKeyPEM: String?
    var replace: Bool?
    enum CodingKeys: String, CodingKey { case alg, publicKeyPEM = "public_key_pem", replace }
}

struct VerifyRequest: Decodable {
    var subjectID: String?
    var image: String?
    var imageA: String?
    var imageB: String?
    var threshold: Float?
    enum CodingKeys: String, CodingKey {
        case subjectID = "subject_id", image, imageA = "image_a", imageB = "image_b", threshold
    }
}

struct IdentifyRequest: Decodable {
    var image: String?
    var gallery: String?
    var topK: Int?
    var threshold: Float?
    var targetFPIR: Double?
    var subjectIDs: [String]?
    enum CodingKeys: String, CodingKey {
        case image, gallery, topK = "top_k", threshold, targetFPIR = "target_fpir", subjectIDs = "subject_ids"
    }
}

struct CreateSessionRequest: Decodable {
    var customerRef: String?
    var purpose: SessionRecord.Purpose?
    var subjectID: String?
    var ttl: Int?
    enum CodingKeys: String, CodingKey { case customerRef = "customer_ref", purpose, subjectID = "subject_id", ttl }
}

/// Gallery names: 1…64 characters of `A–Z a–z 0–9 _ . -`.
enum GalleryName {
    static func validate(_ name: String) throws -> String {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { throw APIError.invalidRequest("gallery: expected 1…64 characters of A-Z a-z 0-9 _ . -") }
        return name
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

struct CreateTenantRequest: Decodable {
    var name: String?
}

struct AddCustomerKeyRequest: Decodable {
    var kid: String?
    var alg: String?
    var publicKeyPEM: String?
    var jwk: [String: String]?
    enum CodingKeys: String, CodingKey { case kid, alg, publicKeyPEM = "public_key_pem", jwk }
}

struct UpdateSettingsRequest: Decodable {
    var customerSelfEnrollment: Bool?
    enum CodingKeys: String, CodingKey { case customerSelfEnrollment = "customer_self_enrollment" }
}

struct WebhookEndpointRequest: Decodable {
    var url: String?
    var events: [String]?
    var enabled: Bool?
}
