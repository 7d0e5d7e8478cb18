public import Foundation

/// Test and live data never meet: every object and credential belongs to one mode.
public enum Mode: String, Sendable, Codable, CaseIterable {
    case test
    case live
}

/// What a restricted key, client credential or session may do.
public enum Scope: String, Sendable, Codable, CaseIterable, Hashable {
    case subjectsRead = "subjects:read"
    case subjectsWrite = "subjects:write"
    case verify
    case identify
    case sessionsCreate = "sessions:create"
    case keysManage = "keys:manage"
}

/// A subject named by its id, or by the caller's external id (created on its first face when
/// `createIfMissing`, as batch enrolment does).
public enum SubjectReference: Sendable, Hashable {
    case id(String)
    case external(String, createIfMissing: Bool)
}

/// The one stored shape of a face's quality: what enrolment measured, as the API shows it.
public struct StoredQuality: Codable, Sendable, Equatable {
    public var faceSize: Int
    public var brightness: Double
    public var sharpness: Double
    public var confidence: Double
    public var insideFraction: Double
    /// Why the face would fail the enrolment gate (empty when it passes).
    public var reasons: [String]

    public init(faceSize: Int, brightness: Double, sharpness: Double, confidence: Double, insideFraction: Double, reasons: [String]) {
        // Rounded once here, so the stored, returned and re-read values are the same numbers.
        self.faceSize = faceSize
        self.brightness = (brightness * 10).rounded() / 10
        self.sharpness = (sharpness * 10).rounded() / 10
        self.confidence = (confidence * 10_000).rounded() / 10_000
        self.insideFraction = (insideFraction * 1000).rounded() / 1000
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey {
        case faceSize = "face_size", brightness, sharpness, confidence, insideFraction = "inside_fraction", reasons
    }

    /// Synthetic templates (load tests) have no photo and so no measured quality.
    public static let unmeasured = StoredQuality(faceSize: 0, brightness: 0, sharpness: 0, confidence: 0, insideFraction: 0, reasons: [])
}

/// A face to write: its template in the clear (the store seals it), where it was found and how good it is.
public struct NewFace: Sendable {
    public var subject: SubjectReference
    public var gallery: String
    public var template: [Float]
    /// left, top, right, bottom in the photo's pixels.
    public var box: [Int]
    public var quality: StoredQuality
    /// SHA-256 (hex) of the photo's bytes: the same photo on the same subject is enrolled once.
    public var imageSHA256: String?
    /// For client-custody subjects: the subject's fresh key (32 bytes). The face is sealed with
    /// it (never with the tenant's key), the subject's older faces are replaced, and the key is
    /// not stored.
    public var subjectKey: Data?
    /// Other subjects above the dedup threshold (their ids): a `face.duplicate_candidate` event goes with the face.
    public var duplicates: [String] = []

    public init(subject: SubjectReference, gallery: String = "default", template: [Float], box: [Int], quality: StoredQuality, imageSHA256: String?,
                subjectKey: Data? = nil) {
        (self.subject, self.gallery, self.template, self.box, self.quality, self.imageSHA256, self.subjectKey) =
            (subject, gallery, template, box, quality, imageSHA256, subjectKey)
    }
}

/// What writing a face did.
public struct FaceWrite: Sendable, Equatable {
    public let faceID: String
    public let subjectID: String
    /// The same photo was already enrolled on this subject: nothing was written.
    public let alreadyEnrolled: Bool
    public init(faceID: String, subjectID: String, alreadyEnrolled: Bool) {
        (self.faceID, self.subjectID, self.alreadyEnrolled) = (faceID, subjectID, alreadyEnrolled)
    }
}

/// A stored face with its template opened: what galleries are loaded from.
public struct FaceTemplate: Sendable {
    public let faceID: String
    public let subjectID: String
    public let tenantID: String
    public let mode: Mode
    public let gallery: String
    public let imageSHA256: String?
    public let template: [Float]
}

/// Stored faces as a full load reads them: per face its ids and owner, and the opened templates
/// contiguous, row-major (face i's values at `i * dimension ..< (i + 1) * dimension`). Faces of one
/// tenant, mode and gallery in a row form a run.
public struct FaceBatch: Sendable {
    public struct Run: Sendable, Equatable {
        public let tenant: String
        public let mode: Mode
        public let gallery: String
        public internal(set) var faces: Range<Int>
    }

    public private(set) var faceIDs: [String] = []
    public private(set) var subjectIDs: [String] = []
    /// Present when the scan asked for digests.
    public private(set) var imageSHA256s: [String?] = []
    public internal(set) var templates: [Float] = []
    public private(set) var runs: [Run] = []
    /// Values per template (every template of a batch has as many).
    public private(set) var dimension = 0

    public init() {}

    public var count: Int { faceIDs.count }

    /// Records a face; its template follows through `opened(values:faceID:)`, in the same order.
    mutating func append(faceID: String, subjectID: String, tenant: String, mode: Mode, gallery: String, imageSHA256: String?) {
        let i = faceIDs.count
        faceIDs.append(faceID)
        subjectIDs.append(subjectID)
        imageSHA256s.append(imageSHA256)
        if let last = runs.last, last.tenant == tenant, last.mode == mode, last.gallery == gallery {
            runs[runs.count - 1].faces = last.faces.lowerBound..<(i + 1)
        } else {
            runs.append(Run(tenant: tenant, mode: mode, gallery: gallery, faces: i..<(i + 1)))
        }
    }

    /// Records faces of one owner whose templates are already open: `faceIDs.count × dimension` values.
    mutating func append(faceIDs newFaces: ArraySlice<String>, subjectIDs newSubjects: ArraySlice<String>, tenant: String, mode: Mode,
                         gallery: String, templates values: UnsafeBufferPointer<Float>, dimension d: Int) throws {
        let n = newFaces.count
        guard n > 0 else { return }
        if count == 0 { dimension = d }
        guard d == dimension, d > 0, newSubjects.count == n, values.count == n * d else {
            throw StoreError.sealed("faces of \(d)-value templates where their batch has \(dimension)")
        }
        let i = faceIDs.count
        faceIDs.append(contentsOf: newFaces)
        subjectIDs.append(contentsOf: newSubjects)
        imageSHA256s.append(contentsOf: repeatElement(nil, count: n))
        templates.append(contentsOf: values)
        if let last = runs.last, last.tenant == tenant, last.mode == mode, last.gallery == gallery, last.faces.upperBound == i {
            runs[runs.count - 1].faces = last.faces.lowerBound..<(i + n)
        } else {
            runs.append(Run(tenant: tenant, mode: mode, gallery: gallery, faces: i..<(i + n)))
        }
    }

    /// Checks the template of `values` values just appended to `templates`: every template of a
    /// batch has as many as the first.
    mutating func opened(values: Int, faceID: String) throws {
        if templates.count == values { dimension = values }
        guard values == dimension, values > 0 else {
            throw StoreError.sealed("face \(faceID) holds a template of \(values) values where its batch has \(dimension)")
        }
    }

    /// Face i's template.
    public func template(_ i: Int) -> ArraySlice<Float> { templates[(i * dimension)..<((i + 1) * dimension)] }
}

/// How many server-custody faces one tenant's gallery holds in one mode.
public struct FaceCount: Sendable, Equatable {
    public let tenant: String
    public let mode: Mode
    public let gallery: String
    public let faces: Int
}

/// A page of subjects in creation order.
public struct SubjectPage: Sendable {
    public let subjects: [Subject]
    public let hasMore: Bool
}

/// One audit row: who did what to which subject or object, and the outcome. Never images or templates.
public struct AuditEntry: Sendable {
    public var tenant: String?
    /// The mode acted in (nil for what is not in one: tenants, operator keys, sign-up).
    public var mode: Mode?
    public var credential: String?
    public var operation: String
    public var subject: String?
    public var target: String?
    public var outcome: String
    public var requestID: String?
    public init(tenant: String?, mode: Mode? = nil, credential: String?, operation: String, subject: String? = nil, target: String? = nil,
                outcome: String, requestID: String?) {
        (self.tenant, self.mode, self.credential, self.operation, self.subject, self.target, self.outcome, self.requestID) =
            (tenant, mode, credential, operation, subject, target, outcome, requestID)
    }
}

/// A session to create.
public struct NewSession: Sendable {
    public var id: String
    public var tenant: String
    public var mode: Mode
    public var credential: String
    public var purpose: SessionRecord.Purpose
    public var subject: String?
    public var customerRef: String
    public var expiresAt: Date
    public var maxAttempts: Int
    public init(id: String, tenant: String, mode: Mode, credential: String, purpose: SessionRecord.Purpose, subject: String?,
                customerRef: String, expiresAt: Date, maxAttempts: Int) {
        (self.id, self.tenant, self.mode, self.credential, self.purpose, self.subject, self.customerRef, self.expiresAt, self.maxAttempts) =
            (id, tenant, mode, credential, purpose, subject, customerRef, expiresAt, maxAttempts)
    }
}

/// A session-token signing key, opened.
public struct SigningKeyRecord: Sendable {
    public let kid: String
    /// The raw Ed25519 private key (32 bytes).
    public let privateKey: Data
    public let createdAt: Date
    public let retiredAt: Date?
}
