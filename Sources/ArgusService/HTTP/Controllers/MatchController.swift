import ArgusEnrollment
import ArgusFace
import ArgusMatching
import ArgusStore
public import Foundation
public import Hummingbird

/// `POST /v1/verify` (1:1) and `POST /v1/identify` (1:N), both through the one subject search
/// (`SubjectIndex`). Probes are the largest detected face of the photo whatever its quality
/// (reported as `probe`); only a photo with no face, or no valid image, is refused.
struct MatchController {
    let store: any Store
    let galleries: Galleries
    let faces: FaceAnalysisService
    let body: RequestBody
    let events: LiveEvents

    /// `verify` lets verification sessions in (for their subject only); `identify` refuses them.
    func register(verify: some RouterMethods<ArgusRequestContext>, identify: some RouterMethods<ArgusRequestContext>) {
        verify.post("/v1/verify") { request, context in try await self.verify(request, context) }
        identify.post("/v1/identify") { request, context in try await self.identify(request, context) }
    }

    static func probe(_ probe: (face: FaceRecord, faces: Int)) -> ProbeResponse {
        ProbeResponse(box: probe.face.boxArray, quality: StoredQuality(probe.face), faces: probe.faces)
    }

    static func threshold(_ value: Float?, default fallback: Float) throws -> Float {
        guard let value else { return fallback }
        guard value > -1, value < 1 else { throw APIError.invalidRequest("threshold: expected a number in (-1, 1)") }
        return value
    }

    static func template(_ face: FaceRecord) throws -> [Float] {
        guard let template = face.template else { throw APIError.internalError }
        return template
    }

    func verify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try faces.admit()
        var input = try await body.decode(VerifyRequest.self, from: request)
        var session: SessionRecord?
        if case .session(let claims) = p.kind {
            // The token exists so that the phone decides nothing: it sends the photo, the server the rest.
            guard input.threshold == nil, input.imageA == nil, input.imageB == nil else {
                throw APIError.invalidRequest("a session token sends subject_id and image only (threshold, image_a and image_b are not allowed)")
            }
            guard claims.purpose == SessionRecord.Purpose.verify.rawValue, let subject = input.subjectID, claims.subject == subject else {
                throw APIError.insufficientScope("this session allows \(claims.purpose) on subject \(claims.subject ?? "none") only")
            }
            session = try store.beginAttempt(sessionID: p.credentialID)
        }
        var partitions: [String]?
        if case .customer(let sub, let gallery) = p.kind {
            // The subject comes from the token's `sub`; the photo is all the token sends.
            guard input.subjectID == nil, input.threshold == nil, input.imageA == nil, input.imageB == nil else {
                throw APIError.invalidRequest("a customer token sends the image only (its subject is the token's sub)")
            }
            guard let subject = try store.subjects(tenant: p.tenantID, mode: p.mode, limit: 1, after: nil, externalID: sub).subjects.first else {
                throw APIError.notFound("subject")
            }
            input.subjectID = subject.id
            partitions = [gallery]
        }
        let threshold = try Self.threshold(input.threshold, default: MatchThresholds.verification)
        let score: Float
        let probe: (face: FaceRecord, faces: Int)
        let compared: Subject?
        do {
            (score, probe, compared) = try await compare(input, request, p, in: partitions)
        } catch let error as APIError {
            // A session's attempt that ended before a decision is recorded with what ended it.
            if let session { try store.endAttempt(session, refusedWith: error) }
            throw error
        }
        let match = score >= threshold
        // Recorded, and on a match spent, in one transaction: of concurrent successes exactly one counts.
        if let session {
            do {
                try store.recordAttempt(sessionID: session.id, score: Double(score), threshold: Double(threshold), match: match,
                                        outcome: match ? "match" : "no_match", spending: match)
            } catch StoreError.sessionSpent {
                throw APIError.sessionSpent("This session was already used successfully")
            }
        }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "verify", subject: input.subjectID,
                                   outcome: match ? "match" : "no_match", requestID: context.requestID))
        if let compared {
            // Listeners of that end user (by external id) and of the whole tenant hear it.
            events.publish("verification.completed", tenant: p.tenantID, mode: p.mode, externalID: compared.externalID,
                           data: ["match": match, "score": Double(score), "threshold": Double(threshold), "subject_id": compared.id])
        }
        return try JSONResponse.make(VerifyResponse(match: match, score: score, threshold: threshold, probe: Self.probe(probe), subjectID: input.subjectID))
    }

    /// The score of a verify request, the probe it used, and the subject compared against (if any).
    private func compare(_ input: VerifyRequest, _ request: Request, _ p: Principal,
                         in partitions: [String]? = nil) async throws -> (Float, (face: FaceRecord, faces: Int), Subject?) {
        if let subject = input.subjectID {
            guard input.imageA == nil, input.imageB == nil else { throw APIError.invalidRequest("send {subject_id, image} or {image_a, image_b}") }
            guard let s = try store.subject(tenant: p.tenantID, mode: p.mode, id: subject) else { throw APIError.notFound("subject") }
            guard !s.faceIDs.isEmpty else { throw APIError.invalidRequest("subject \(subject) has no enrolled face") }
            if s.custody == .client {
                // The caller brings the subject's key; the templates are opened for this request only.
                guard let header = request.headers[.subjectKey] else { throw APIError.subjectKeyRequired }
                guard header.utf8.count <= 64, let key = Secrets.base64URLDecode(header), key.count == 32 else { throw APIError.subjectKeyInvalid }
                let templates: [[Float]]
                do { templates = try store.custodyTemplates(tenant: p.tenantID, mode: p.mode, subject: subject, key: key) } catch StoreError.sealed {
                    throw APIError.subjectKeyInvalid
                }
                let probe = try await faces.probe(from: try RequestBody.base64Image(input.image, "image"))
                let t = try Self.template(probe.face)
                return (try templates.map { try Gallery.verify(t, $0) }.max() ?? -1, probe, s)
            }
            let probe = try await faces.probe(from: try RequestBody.base64Image(input.image, "image"))
            return (try galleries.index(tenant: p.tenantID, mode: p.mode).score(try Self.template(probe.face), subject: subject, in: partitions) ?? -1, probe, s)
        }
        guard input.imageA != nil || input.imageB != nil else { throw APIError.invalidRequest("send {subject_id, image} or {image_a, image_b}") }
        let a = try await faces.probe(from: try RequestBody.base64Image(input.imageA, "image_a"))
        let b = try await faces.probe(from: try RequestBody.base64Image(input.imageB, "image_b"))
        return (try Gallery.verify(try Self.template(a.face), try Self.template(b.face)), a, nil)
    }

    func identify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try faces.admit()
        let input = try await body.decode(IdentifyRequest.self, from: request)
        let topK = input.topK ?? 5
        guard (1...100).contains(topK) else { throw APIError.invalidRequest("top_k: expected 1…100") }
        let index = galleries.index(tenant: p.tenantID, mode: p.mode)
        var partitions: [String]?
        if let name = input.gallery {
            // An unknown gallery is 404 and creates nothing: galleries are made by enrolment.
            guard index.contains(partition: try GalleryName.validate(name)) else { throw APIError.notFound("gallery") }
            partitions = [name]
        }
        if let ids = input.subjectIDs, ids.count > 10_000 { throw APIError.invalidRequest("subject_ids: expected at most 10000 ids") }
        let size = index.count(in: partitions)
        let threshold: Float
        if input.threshold != nil {
            threshold = try Self.threshold(input.threshold, default: 0)
        } else if let fpir = input.targetFPIR {
            guard fpir > 0, fpir < 1 else { throw APIError.invalidRequest("target_fpir: expected a number in (0, 1)") }
            threshold = MatchThresholds.identification(gallerySize: max(1, size), targetFPIR: fpir)
        } else {
            threshold = MatchThresholds.identification(gallerySize: max(1, size))
        }
        let probe = try await faces.probe(from: try RequestBody.base64Image(input.image, "image"))
        let ranked = try index.search(try Self.template(probe.face), limit: topK, in: partitions, among: input.subjectIDs.map(Set.init))
        let decision = ranked.first.map { $0.score >= threshold } == true ? "match" : "no_match"
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "identify", subject: ranked.first?.subject,
                                   outcome: decision, requestID: context.requestID))
        return try JSONResponse.make(IdentifyResponse(candidates: ranked.map { CandidateResponse(subjectID: $0.subject, score: $0.score) },
                                                      decision: decision, threshold: threshold, gallerySize: size, probe: Self.probe(probe)))
    }
}
