public import ArgusFace
import ArgusMatching
public import Foundation
public import Hummingbird

/// `POST /v1/verify` (1:1) and `POST /v1/identify` (1:N). Probes are the largest detected face of
/// the photo whatever its quality (reported as `probe`); only a photo with no face is refused.
struct MatchController {
    let deps: ServiceDependencies

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.post("/v1/verify") { request, context in try await verify(request, context) }
        router.post("/v1/identify") { request, context in try await identify(request, context) }
    }

    static func probeJSON(_ probe: (face: FaceRecord, faces: Int)) -> [String: Any] {
        ["box": probe.face.boxArray, "quality": probe.face.qualityJSON, "faces": probe.faces]
    }

    static func threshold(_ value: Float?, default fallback: Float) throws -> Float {
        guard let value else { return fallback }
        guard value > -1, value < 1 else { throw APIError.invalidRequest("threshold: expected a number in (-1, 1)") }
        return value
    }

    func verify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try p.require(.verify)
        let body = try await deps.body.decode(VerifyRequest.self, from: request)
        var session: SessionRecord?
        if case .session(let claims) = p.kind {
            // The token exists so that the phone decides nothing: it sends the photo, the server the rest.
            guard body.threshold == nil, body.imageA == nil, body.imageB == nil else {
                throw APIError.invalidRequest("a session token sends subject_id and image only (threshold, image_a and image_b are not allowed)")
            }
            guard claims.purpose == SessionRecord.Purpose.verify.rawValue, let subject = body.subjectID, claims.subject == subject else {
                throw APIError.insufficientScope("this session allows \(claims.purpose) on subject \(claims.subject ?? "none") only")
            }
            session = try deps.store.beginAttempt(sessionID: p.credentialID)
        }
        let threshold = try Self.threshold(body.threshold, default: MatchThresholds.verification)
        let score: Float
        let probe: (face: FaceRecord, faces: Int)
        if let subject = body.subjectID {
            guard body.imageA == nil, body.imageB == nil else { throw APIError.invalidRequest("send {subject_id, image} or {image_a, image_b}") }
            guard let s = try deps.store.subject(tenant: p.tenantID, mode: p.mode, id: subject) else { throw APIError.notFound("subject") }
            guard !s.faceIDs.isEmpty else { throw APIError.invalidRequest("subject \(subject) has no enrolled face") }
            probe = try await deps.faces.probe(from: try RequestBody.base64Image(body.image, "image"))
            guard let template = probe.face.template else { throw APIError.internalError }
            let found = try deps.galleries.searchSubjects(template, in: deps.galleries.existingGalleries(tenant: p.tenantID, mode: p.mode),
                                                          limit: 1, among: [subject])
            score = found.first?.score ?? -1
        } else if body.imageA != nil || body.imageB != nil {
            let a = try await deps.faces.probe(from: try RequestBody.base64Image(body.imageA, "image_a"))
            let b = try await deps.faces.probe(from: try RequestBody.base64Image(body.imageB, "image_b"))
            guard let ta = a.face.template, let tb = b.face.template else { throw APIError.internalError }
            score = try Gallery.verify(ta, tb)
            probe = a
        } else {
            throw APIError.invalidRequest("send {subject_id, image} or {image_a, image_b}")
        }
        let match = score >= threshold
        // Spent atomically with its success: of concurrent successes exactly one counts.
        if let session, match, try !deps.store.spend(sessionID: session.id) {
            throw APIError.sessionSpent("This session was already used successfully")
        }
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "verify", subject: body.subjectID,
                             outcome: match ? "match" : "no_match", requestID: context.requestID)
        var out: [String: Any] = ["match": match, "score": Double(score), "threshold": Double(threshold), "probe": Self.probeJSON(probe)]
        if let subject = body.subjectID { out["subject_id"] = subject }
        return try JSONResponse.make(out)
    }

    func identify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.identify.rawValue) }
        try p.require(.identify)
        let body = try await deps.body.decode(IdentifyRequest.self, from: request)
        let topK = body.topK ?? 5
        guard (1...100).contains(topK) else { throw APIError.invalidRequest("top_k: expected 1…100") }
        let galleries: [Gallery]
        if let name = body.gallery {
            // An unknown gallery is 404 and creates nothing: galleries are made by enrolment.
            guard let g = deps.galleries.existing(.init(tenant: p.tenantID, mode: p.mode, gallery: try GalleryName.validate(name))) else {
                throw APIError.notFound("gallery")
            }
            galleries = [g]
        } else {
            galleries = deps.galleries.existingGalleries(tenant: p.tenantID, mode: p.mode)
        }
        if let ids = body.subjectIDs, ids.count > 10_000 { throw APIError.invalidRequest("subject_ids: expected at most 10000 ids") }
        let size = galleries.reduce(0) { $0 + $1.count }
        let threshold: Float
        if body.threshold != nil {
            threshold = try Self.threshold(body.threshold, default: 0)
        } else if let fpir = body.targetFPIR {
            guard fpir > 0, fpir < 1 else { throw APIError.invalidRequest("target_fpir: expected a number in (0, 1)") }
            threshold = MatchThresholds.identification(gallerySize: max(1, size), targetFPIR: fpir)
        } else {
            threshold = MatchThresholds.identification(gallerySize: max(1, size))
        }
        let probe = try await deps.faces.probe(from: try RequestBody.base64Image(body.image, "image"))
        guard let template = probe.face.template else { throw APIError.internalError }
        let ranked = try deps.galleries.searchSubjects(template, in: galleries, limit: topK, among: body.subjectIDs.map(Set.init))
        let decision = ranked.first.map { $0.score >= threshold } == true ? "match" : "no_match"
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "identify", subject: ranked.first?.subject,
                             outcome: decision, requestID: context.requestID)
        return try JSONResponse.make(["candidates": ranked.map { ["subject_id": $0.subject, "score": Double($0.score)] },
                                      "decision": decision, "threshold": Double(threshold), "gallery_size": size,
                                      "probe": Self.probeJSON(probe)])
    }
}
