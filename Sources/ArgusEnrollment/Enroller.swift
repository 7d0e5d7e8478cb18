public import ArgusFace
public import ArgusMatching
public import ArgusStore
import Crypto
public import Foundation

/// The one enrolment path, for the HTTP service, `argus enroll` (into a store or through a
/// server) and `argus bench seed`: photo bytes (or a template) → digest → idempotency → analysis
/// → seal and insert (the store) → in-memory gallery. Analysis is the caller's, because where it
/// runs differs (the service's executor, a batch's worker threads); everything else is here.
public struct Enroller: Sendable {
    public let store: any Store
    /// Kept in step with every face written; nil when nothing searches in this process (a batch
    /// enrolment without dedup).
    public let galleries: Galleries?

    public init(store: any Store, galleries: Galleries?) {
        self.store = store
        self.galleries = galleries
    }

    /// SHA-256 (hex) of a photo's bytes: its identity for idempotent enrolment.
    public static func digest(_ bytes: some Sequence<UInt8>) -> String {
        SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
    }

    /// The face already enrolled on `subject` from these bytes, before any analysis is spent on them.
    public func alreadyEnrolled(tenant: String, mode: Mode, subject: SubjectReference, imageSHA256: String) throws -> FaceWrite? {
        try store.enrolledFace(tenant: tenant, mode: mode, subject: subject, imageSHA256: imageSHA256)
    }

    /// What `commit` did with one face.
    public struct Committed: Sendable {
        public let write: FaceWrite
        /// Other subjects above the dedup threshold, best first (empty without dedup).
        public let duplicates: [SubjectMatch]
    }

    /// Dedup: other subjects whose best face reaches `threshold`, at most `limit`.
    public struct Dedup: Sendable {
        public var threshold: Float
        public var limit: Int
        public init(threshold: Float, limit: Int = 20) {
            self.threshold = threshold
            self.limit = limit
        }
    }

    /// Writes faces in one durable transaction (spending `session` in it, if any), then adds the
    /// new ones to the in-memory gallery. Dedup searches the gallery before the write, so a face
    /// is never its own duplicate.
    public func commit(_ faces: [NewFace], tenant: String, mode: Mode, spending session: String? = nil,
                       dedup: Dedup? = nil) throws -> [Committed] {
        var duplicates: [[SubjectMatch]] = []
        if let dedup, let galleries {
            let index = galleries.index(tenant: tenant, mode: mode)
            for face in faces {
                let own = try ownSubject(face.subject, tenant: tenant, mode: mode)
                duplicates.append(try index.search(face.template, limit: dedup.limit, excluding: own, minScore: dedup.threshold))
            }
        }
        // Duplicates travel with their face, so the store writes their event in the face's transaction.
        var annotated = faces
        for (i, found) in duplicates.enumerated() where i < annotated.count { annotated[i].duplicates = found.map(\.subject) }
        let writes = try store.writeFaces(annotated, tenant: tenant, mode: mode, spending: session)
        if let galleries {
            let index = galleries.index(tenant: tenant, mode: mode)
            // Client-custody faces are never in memory: the server cannot open them without their key.
            for (face, write) in zip(faces, writes) where !write.alreadyEnrolled && face.subjectKey == nil {
                // Already there: on a shared store, this node's follower may have read it from the face log first.
                do {
                    try index.add(face: write.faceID, subject: write.subjectID, template: face.template, partition: face.gallery)
                } catch {
                    if case .duplicateID = error { continue }
                    throw error
                }
            }
        }
        return writes.enumerated().map { i, write in
            Committed(write: write, duplicates: write.alreadyEnrolled || i >= duplicates.count ? [] : duplicates[i])
        }
    }

    private func ownSubject(_ reference: SubjectReference, tenant: String, mode: Mode) throws -> String? {
        switch reference {
        case .id(let id): return id
        case .external(let external, _):
            return try store.subjects(tenant: tenant, mode: mode, limit: 1, after: nil, externalID: external).subjects.first?.id
        }
    }
}

extension StoredQuality {
    /// What the pipeline measured of a detected face.
    public init(_ face: FaceRecord) {
        self.init(faceSize: face.quality.faceSize, brightness: face.quality.brightness, sharpness: face.quality.sharpness,
                  confidence: face.confidence, insideFraction: face.quality.insideFraction,
                  reasons: face.quality.reasons.map(\.rawValue))
    }
}

extension FaceRecord {
    /// left, top, right, bottom.
    public var boxArray: [Int] { [box.left, box.top, box.right, box.bottom] }

    /// This face as a `NewFace` (its template must have been computed).
    public func newFace(subject: SubjectReference, gallery: String = "default", imageSHA256: String?, subjectKey: Data? = nil) throws -> NewFace {
        guard let template else { throw EnrollmentError.notEmbedded }
        return NewFace(subject: subject, gallery: gallery, template: template, box: boxArray, quality: StoredQuality(self), imageSHA256: imageSHA256,
                       subjectKey: subjectKey)
    }
}

public enum EnrollmentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A face record without its template (detected but not embedded).
    case notEmbedded
    public var description: String { "the face was detected but not embedded" }
}
