public import ArgusStore
public import Foundation

// The typed bodies of every response. `openapi.json` describes exactly these (the service tests
// validate every response they receive against it). Members that may be null are encoded as
// null, not left out, so a client sees one shape per type.

enum ISODate {
    static func string(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

struct HealthResponse: Encodable { let status = "ok" }

struct PingResponse: Encodable {
    let ok = true
    let tenant: String
    let mode: Mode
    let credential: String
}

struct JWKSResponse: Encodable {
    struct Key: Encodable { let kty, crv, alg, use, kid, x: String }
    let keys: [Key]
}

/// A credential as listed; when just issued, with its secret (shown once).
struct KeyResponse: Encodable {
    let credential: Credential
    var key: String?
    var clientKey: String?
    var clientSecret: String?

    init(_ credential: Credential) { self.credential = credential }

    init(issued: IssuedCredential) {
        credential = issued.credential
        if let clientKey = issued.clientKey {
            self.clientKey = clientKey
            clientSecret = issued.secret
        } else {
            key = issued.secret
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, mode, prefix, last4, scopes, name, created, lastUsed = "last_used", expires, revoked, signedRequests = "signed_requests"
        case key, clientKey = "client_key", clientSecret = "client_secret"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let k = credential
        try c.encode(k.id, forKey: .id)
        try c.encode(k.kind, forKey: .kind)
        try c.encode(k.mode, forKey: .mode)
        try c.encode(k.displayPrefix, forKey: .prefix)
        try c.encode(k.last4, forKey: .last4)
        try c.encode(k.scopes.map(\.rawValue).sorted(), forKey: .scopes)
        try c.encode(k.name, forKey: .name)
        try c.encode(ISODate.string(k.createdAt), forKey: .created)
        try c.encode(k.lastUsedAt.map(ISODate.string), forKey: .lastUsed)
        try c.encode(k.expiresAt.map(ISODate.string), forKey: .expires)
        try c.encode(k.revokedAt.map(ISODate.string), forKey: .revoked)
        try c.encode(k.signedRequests ? "required" : "optional", forKey: .signedRequests)
        try c.encodeIfPresent(key, forKey: .key)
        try c.encodeIfPresent(clientKey, forKey: .clientKey)
        try c.encodeIfPresent(clientSecret, forKey: .clientSecret)
    }
}

struct ListResponse<Item: Encodable>: Encodable {
    let data: [Item]
}

struct DeletedResponse: Encodable {
    let id: String
    let deleted = true
}

struct RevokedResponse: Encodable {
    let id: String
    let revoked = true
}

struct SubjectResponse: Encodable {
    let subject: Subject
    init(_ subject: Subject) { self.subject = subject }
    enum CodingKeys: String, CodingKey { case id, externalID = "external_id", created, faces, keyCustody = "key_custody", searchable }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subject.custody, forKey: .keyCustody)
        // Client-custody subjects are never searched 1:N nor part of dedup.
        try c.encode(subject.custody == .server, forKey: .searchable)
        try c.encode(subject.id, forKey: .id)
        try c.encode(subject.externalID, forKey: .externalID)
        try c.encode(ISODate.string(subject.createdAt), forKey: .created)
        try c.encode(subject.faceIDs, forKey: .faces)
    }
}

struct SubjectListResponse: Encodable {
    let data: [SubjectResponse]
    let hasMore: Bool
    enum CodingKeys: String, CodingKey { case data, hasMore = "has_more" }
}

struct CandidateResponse: Encodable {
    let subjectID: String
    let score: Float
    enum CodingKeys: String, CodingKey { case subjectID = "subject_id", score }
}

/// 201: a face enrolled.
struct FaceEnrolledResponse: Encodable {
    let id: String
    let subjectID: String
    let gallery: String
    let box: [Int]
    let confidence: Double
    let quality: StoredQuality
    /// Present when dedup was asked for.
    let duplicates: [CandidateResponse]?
    /// Client-custody subjects: the subject's new key wrapped to the application key (base64url), shown once.
    var subjectKey: String? = nil
    /// The application key `subject_key` is wrapped to.
    var appKeyID: String? = nil
    enum CodingKeys: String, CodingKey {
        case id, subjectID = "subject_id", gallery, box, confidence, quality, duplicates, subjectKey = "subject_key", appKeyID = "app_key_id"
    }
}

/// 200: this photo was already enrolled on this subject; nothing changed.
struct FaceAlreadyEnrolledResponse: Encodable {
    let id: String
    let subjectID: String
    let alreadyEnrolled = true
    enum CodingKeys: String, CodingKey { case id, subjectID = "subject_id", alreadyEnrolled = "already_enrolled" }
}

struct GalleryResponse: Encodable {
    let name: String
    let faces: Int
}

/// The face a search used: the largest detected, whatever its quality.
struct ProbeResponse: Encodable {
    let box: [Int]
    let quality: StoredQuality
    /// How many faces were detected in the photo.
    let faces: Int
}

struct VerifyResponse: Encodable {
    let match: Bool
    let score: Float
    let threshold: Float
    let probe: ProbeResponse
    let subjectID: String?
    enum CodingKeys: String, CodingKey { case match, score, threshold, probe, subjectID = "subject_id" }
}

struct IdentifyResponse: Encodable {
    let candidates: [CandidateResponse]
    let decision: String
    let threshold: Float
    let gallerySize: Int
    let probe: ProbeResponse
    enum CodingKeys: String, CodingKey { case candidates, decision, threshold, gallerySize = "gallery_size", probe }
}

struct SessionCreatedResponse: Encodable {
    let id: String
    let token: String
    let expiresAt: String
    let purpose: SessionRecord.Purpose
    let subjectID: String
    let maxAttempts: Int
    enum CodingKeys: String, CodingKey {
        case id, token, expiresAt = "expires_at", purpose, subjectID = "subject_id", maxAttempts = "max_attempts"
    }
}

struct SignerResponse: Encodable {
    let signer: SignerRecord
    enum CodingKeys: String, CodingKey { case id, alg, created, revoked }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(signer.id, forKey: .id)
        try c.encode(signer.alg, forKey: .alg)
        try c.encode(ISODate.string(signer.createdAt), forKey: .created)
        try c.encode(signer.revokedAt.map(ISODate.string), forKey: .revoked)
    }
}

struct ChallengeResponse: Encodable {
    struct Signer: Encodable { let id, alg: String }
    let challengeID: String
    let challenge: String
    let expiresAt: String
    let allowedSigners: [Signer]
    enum CodingKeys: String, CodingKey { case challengeID = "challenge_id", challenge, expiresAt = "expires_at", allowedSigners = "allowed_signers" }
}

struct UserActionResponse: Encodable {
    let userAction: String
    let expiresAt: String
    enum CodingKeys: String, CodingKey { case userAction = "user_action", expiresAt = "expires_at" }
}

struct AppKeyResponse: Encodable {
    let id: String
    let alg: String
    let created: String
    /// The one new subject keys are wrapped to.
    let active: Bool
}

struct TenantResponse: Encodable {
    let id: String
    let name: String
    let status: TenantRecord.Status
    let created: String
    /// On creation only: the tenant's first test-mode secret key, shown once.
    var secretKey: String?
    init(_ t: TenantRecord) {
        (id, name, status, created) = (t.id, t.name, t.status, ISODate.string(t.createdAt))
    }
    enum CodingKeys: String, CodingKey { case id, name, status, created, secretKey = "secret_key" }
}

/// A session's outcome: its status, and each attempt with its score and decision.
struct SessionResponse: Encodable {
    struct Attempt: Encodable {
        let at: String
        let score: Double?
        let threshold: Double?
        let match: Bool?
        let outcome: String
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(at, forKey: .at)
            try c.encode(score, forKey: .score)
            try c.encode(threshold, forKey: .threshold)
            try c.encode(match, forKey: .match)
            try c.encode(outcome, forKey: .outcome)
        }
        enum CodingKeys: String, CodingKey { case at, score, threshold, match, outcome }
    }
    let record: SessionRecord
    let attempts: [Attempt]

    init(_ record: SessionRecord, attempts: [SessionAttempt]) {
        self.record = record
        self.attempts = attempts.map { Attempt(at: ISODate.string($0.at), score: $0.score, threshold: $0.threshold, match: $0.match, outcome: $0.outcome) }
    }

    enum CodingKeys: String, CodingKey {
        case id, status, purpose, subjectID = "subject_id", customerRef = "customer_ref", created, expiresAt = "expires_at"
        case attemptsUsed = "attempts_used", maxAttempts = "max_attempts", attempts
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record.id, forKey: .id)
        try c.encode(record.status(), forKey: .status)
        try c.encode(record.purpose, forKey: .purpose)
        try c.encode(record.subjectID, forKey: .subjectID)
        try c.encode(record.customerRef, forKey: .customerRef)
        try c.encode(ISODate.string(record.createdAt), forKey: .created)
        try c.encode(ISODate.string(record.expiresAt), forKey: .expiresAt)
        try c.encode(record.attempts, forKey: .attemptsUsed)
        try c.encode(record.maxAttempts, forKey: .maxAttempts)
        try c.encode(attempts, forKey: .attempts)
    }
}

struct SessionListResponse: Encodable {
    let data: [SessionResponse]
    let hasMore: Bool
    enum CodingKeys: String, CodingKey { case data, hasMore = "has_more" }
}

struct CustomerKeyResponse: Encodable {
    let id, kid, alg, created: String
    init(_ k: CustomerKeyRecord) { (id, kid, alg, created) = (k.id, k.kid, k.alg, ISODate.string(k.createdAt)) }
}

struct SettingsResponse: Encodable {
    let customerSelfEnrollment: Bool
    enum CodingKeys: String, CodingKey { case customerSelfEnrollment = "customer_self_enrollment" }
}

struct CustomerSubjectResponse: Encodable {
    let externalID: String
    let subjectID: String?
    let faces: Int
    enum CodingKeys: String, CodingKey { case externalID = "external_id", subjectID = "subject_id", faces, enrolled }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(externalID, forKey: .externalID)
        try c.encode(subjectID, forKey: .subjectID)
        try c.encode(faces, forKey: .faces)
        try c.encode(faces > 0, forKey: .enrolled)
    }
}

struct WebhookEndpointResponse: Encodable {
    let endpoint: WebhookEndpointRecord
    /// On creation and roll only: the signing secret, shown once.
    var secret: String?
    init(_ e: WebhookEndpointRecord) { endpoint = e }
    enum CodingKeys: String, CodingKey { case id, url, events, status, disabledReason = "disabled_reason", created, secret }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(endpoint.id, forKey: .id)
        try c.encode(endpoint.url, forKey: .url)
        try c.encode(endpoint.events.map(\.rawValue).sorted(), forKey: .events)
        try c.encode(endpoint.disabledAt == nil ? "enabled" : "disabled", forKey: .status)
        try c.encode(endpoint.disabledReason, forKey: .disabledReason)
        try c.encode(ISODate.string(endpoint.createdAt), forKey: .created)
        try c.encodeIfPresent(secret, forKey: .secret)
    }
}

struct DeliveryResponse: Encodable {
    let d: DeliveryRecord
    init(_ d: DeliveryRecord) { self.d = d }
    enum CodingKeys: String, CodingKey { case id, eventID = "event_id", type, status, attempts, lastStatus = "last_status", lastError = "last_error", lastAt = "last_at", nextAt = "next_at" }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(d.id, forKey: .id)
        try c.encode(d.eventID, forKey: .eventID)
        try c.encode(d.type, forKey: .type)
        try c.encode(d.status, forKey: .status)
        try c.encode(d.attempts, forKey: .attempts)
        try c.encode(d.lastStatus, forKey: .lastStatus)
        try c.encode(d.lastError, forKey: .lastError)
        try c.encode(d.lastAt.map(ISODate.string), forKey: .lastAt)
        try c.encode(ISODate.string(d.nextAt), forKey: .nextAt)
    }
}
