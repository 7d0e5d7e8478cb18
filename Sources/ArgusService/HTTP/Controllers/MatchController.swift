public import ArgusFace
import ArgusMatching
public import Foundation
public import Hummingbird

/// `POST /v1/verify` (1:1) and `POST /v1/identify` (1:N).
struct MatchController {
    let deps: ServiceDependencies

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.post("/v1/verify") { request, context in try await verify(request, context) }
        router.post("/v1/identify") { request, context in try await identify(request, context) }
    }

    func verify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try p.require(.verify)
        let body = try await deps.body.json(request)
        let threshold = (body["threshold"] as? NSNumber)?.floatValue ?? MatchThresholds.verification
        guard threshold > -1, threshold < 1 else { throw APIError.invalidRequest("threshold must lie in (-1, 1)") }
        var session: SessionRecord?
        if case .session(let claims) = p.kind {
            guard claims.purpose == SessionRecord.Purpose.verify.rawValue, let subject = body["subject_id"] as? String, claims.subject == subject else {
                throw APIError.insufficientScope("this session allows \(claims.purpose) on subject \(claims.subject ?? "none") only")
            }
            session = try deps.store.beginAttempt(sessionID: p.credentialID)
        }
        let score: Float
        var subjectID: String?
        if let subject = body["subject_id"] as? String {
            guard let s = try deps.store.subject(tenant: p.tenantID, mode: p.mode, id: subject) else { throw APIError.notFound("subject") }
            guard !s.faceIDs.isEmpty else { throw APIError.invalidRequest("subject \(subject) has no enrolled face") }
            let probe = try deps.faces.face(from: try RequestBody.base64Image(body, "image"))
            guard let template = probe.template else { throw APIError.internalError }
            var best: Float = -1
            for g in deps.galleries.existingGalleries(tenant: p.tenantID, mode: p.mode) {
                for m in try g.search(template, k: max(1, s.faceIDs.count), among: s.faceIDs) { best = max(best, m.score) }
            }
            score = best
            subjectID = subject
        } else if body["image_a"] != nil {
            let a = try deps.faces.face(from: try RequestBody.base64Image(body, "image_a"))
            let b = try deps.faces.face(from: try RequestBody.base64Image(body, "image_b"))
            score = try Gallery.verify(a.template ?? [], b.template ?? [])
        } else {
            throw APIError.invalidRequest("send {subject_id, image} or {image_a, image_b}")
        }
        let match = score >= threshold
        if let session, match { try deps.store.markSpent(sessionID: session.id) }
        deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "verify", subject: subjectID,
                         outcome: match ? "match" : "no_match", requestID: context.requestID)
        var out: [String: Any] = ["match": match, "score": Double(score), "threshold": Double(threshold)]
        if let subjectID { out["subject_id"] = subjectID }
        return try JSONResponse.make(out)
    }

    func identify(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.identify.rawValue) }
        try p.require(.identify)
        let body = try await deps.body.json(request)
        let topK = (body["top_k"] as? Int) ?? 5
        guard (1...100).contains(topK) else { throw APIError.invalidRequest("top_k must be 1…100") }
        let galleries: [Gallery]
        if let name = body["gallery"] as? String {
            galleries = [deps.galleries.gallery(.init(tenant: p.tenantID, mode: p.mode, gallery: name))]
        } else {
            galleries = deps.galleries.existingGalleries(tenant: p.tenantID, mode: p.mode)
        }
        let size = galleries.reduce(0) { $0 + $1.count }
        let threshold: Float
        if let t = (body["threshold"] as? NSNumber)?.floatValue {
            threshold = t
        } else if let fpir = (body["target_fpir"] as? NSNumber)?.doubleValue {
            guard fpir > 0, fpir < 1 else { throw APIError.invalidRequest("target_fpir must lie in (0, 1)") }
            threshold = MatchThresholds.identification(gallerySize: max(1, size), targetFPIR: fpir)
        } else {
            threshold = MatchThresholds.identification(gallerySize: max(1, size))
        }
        let probe = try deps.faces.face(from: try RequestBody.base64Image(body, "image"), policy: .largest)
        guard let template = probe.template else { throw APIError.internalError }
        // Candidates are subjects with their best face's score; faces beyond the subject subset are skipped.
        let subset = (body["subject_ids"] as? [String]).map(Set.init)
        var best: [String: Float] = [:]
        for g in galleries {
            for m in try g.search(template, k: min(max(1, g.count), topK * 10)) {
                guard let subject = deps.galleries.subject(ofFace: m.id) else { continue }
                if let subset, !subset.contains(subject) { continue }
                best[subject] = max(best[subject] ?? -1, m.score)
            }
        }
        let ranked = best.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(topK)
        let decision = (ranked.first?.value ?? -1) >= threshold ? "match" : "no_match"
        deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "identify", subject: ranked.first?.key, outcome: decision,
                         requestID: context.requestID)
        return try JSONResponse.make(["candidates": ranked.map { ["subject_id": $0.key, "score": Double($0.value)] },
                                      "decision": decision, "threshold": Double(threshold), "gallery_size": size])
    }
}
