public import ArgusFace
import Crypto
public import Foundation
public import Hummingbird

/// `/v1/subjects` and their faces. Enrolment is acknowledged only after the face is committed
/// (synchronously) to the store and added to the in-memory gallery.
struct SubjectsController {
    let deps: ServiceDependencies

    func register(_ router: some RouterMethods<ArgusRequestContext>) {
        router.post("/v1/subjects") { request, context in try await create(request, context) }
        router.get("/v1/subjects") { request, context in try list(request, context) }
        router.get("/v1/subjects/:id") { _, context in try show(context) }
        router.delete("/v1/subjects/:id") { _, context in try delete(context) }
        router.post("/v1/subjects/:id/faces") { request, context in try await enroll(request, context) }
        router.delete("/v1/subjects/:id/faces/:face_id") { _, context in try deleteFace(context) }
        router.get("/v1/galleries") { _, context in try galleries(context) }
    }

    static func json(_ s: Subject) -> [String: Any] {
        ["id": s.id, "external_id": s.externalID ?? NSNull(), "created": JSONResponse.iso(s.createdAt), "faces": s.faceIDs]
    }

    private func subjectID(_ context: ArgusRequestContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw APIError.notFound("subject") }
        return id
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsWrite.rawValue) }
        try p.require(.subjectsWrite)
        let external = try await deps.body.decode(CreateSubjectRequest.self, from: request).externalID
        if let external, external.isEmpty || external.count > 256 { throw APIError.invalidRequest("external_id must be 1…256 characters") }
        let subject = try deps.store.createSubject(tenant: p.tenantID, mode: p.mode, externalID: external)
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "subjects.create", subject: subject.id, outcome: "created",
                         requestID: context.requestID)
        return try JSONResponse.make(Self.json(subject), status: .created)
    }

    func list(_ request: Request, _ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsRead.rawValue) }
        try p.require(.subjectsRead)
        let limit = min(100, max(1, request.uri.queryParameters.get("limit", as: Int.self) ?? 20))
        let after = request.uri.queryParameters.get("starting_after")
        let page = try deps.store.subjects(tenant: p.tenantID, mode: p.mode, limit: limit, after: after,
                                           externalID: request.uri.queryParameters.get("external_id"))
        return try JSONResponse.make(["data": page.subjects.map(Self.json), "has_more": page.hasMore])
    }

    func show(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsRead.rawValue) }
        try p.require(.subjectsRead)
        guard let s = try deps.store.subject(tenant: p.tenantID, mode: p.mode, id: try subjectID(context)) else { throw APIError.notFound("subject") }
        return try JSONResponse.make(Self.json(s))
    }

    func delete(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsWrite.rawValue) }
        try p.require(.subjectsWrite)
        let id = try subjectID(context)
        guard let faces = try deps.store.deleteSubject(tenant: p.tenantID, mode: p.mode, id: id) else { throw APIError.notFound("subject") }
        deps.galleries.remove(faces: faces, tenant: p.tenantID, mode: p.mode)
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "subjects.delete", subject: id, outcome: "deleted",
                         requestID: context.requestID)
        return try JSONResponse.make(["id": id, "deleted": true])
    }

    func enroll(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        try p.require(.subjectsWrite)
        let id = try subjectID(context)
        let query = request.uri.queryParameters
        var session: SessionRecord?
        if case .session(let claims) = p.kind {
            guard claims.purpose == SessionRecord.Purpose.enroll.rawValue, claims.subject == id else {
                throw APIError.insufficientScope("this session allows \(claims.purpose) on subject \(claims.subject ?? "none") only")
            }
            guard query.get("gallery") == nil, query.get("dedup") == nil else {
                throw APIError.invalidRequest("a session token sends the image only (gallery and dedup are not allowed)")
            }
        }
        guard try deps.store.subject(tenant: p.tenantID, mode: p.mode, id: id) != nil else { throw APIError.notFound("subject") }
        let input = try await deps.body.image(request)
        if p.isSession, !input.fields.isEmpty {
            throw APIError.invalidRequest("a session token sends the image only (gallery and dedup are not allowed)")
        }
        let galleryName = try GalleryName.validate(query.get("gallery") ?? input.fields.gallery ?? "default")
        let dedupText = query.get("dedup")
        if let dedupText, Bool(dedupText) == nil { throw APIError.invalidRequest("dedup: expected true or false") }
        let dedup = dedupText.flatMap(Bool.init) ?? input.fields.dedup ?? false
        // Dedup answers with other subjects' ids and scores: that is identification.
        if dedup { try p.require(.identify) }
        if p.isSession { session = try deps.store.beginAttempt(sessionID: p.credentialID) }
        let digest = SHA256.hash(data: Data(input.bytes)).map { String(format: "%02x", $0) }.joined()
        // The same photo again on the same subject: nothing new to enrol (batch re-runs are idempotent).
        if let existing = try deps.store.face(subject: id, tenant: p.tenantID, mode: p.mode, imageSHA256: digest) {
            // The face is enrolled: for an enrolment session that is its success, counted once.
            if let session, try !deps.store.spend(sessionID: session.id) {
                throw APIError.sessionSpent("This session was already used successfully")
            }
            return try JSONResponse.make(["id": existing, "subject_id": id, "already_enrolled": true])
        }
        let face: FaceRecord
        do {
            face = try await deps.faces.enrollmentFace(from: input.bytes)
        } catch let error as APIError {
            try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "faces.enroll", subject: id, outcome: error.code,
                                 requestID: context.requestID)
            throw error
        }
        guard let template = face.template else { throw APIError.internalError }
        var duplicates: [[String: Any]] = []
        if dedup {
            let galleries = deps.galleries.existingGalleries(tenant: p.tenantID, mode: p.mode)
            let threshold = MatchThresholds.identification(gallerySize: max(1, galleries.reduce(0) { $0 + $1.count }))
            duplicates = try deps.galleries.searchSubjects(template, in: galleries, limit: 20, excluding: id, minScore: threshold)
                .map { ["subject_id": $0.subject, "score": Double($0.score)] }
        }
        let faceID = Secrets.identifier("face")
        let sealed = try KeyVault.sealTemplate(template, key: try deps.store.dataKey(tenant: p.tenantID), faceID: faceID)
        let qualityData = try JSONSerialization.data(withJSONObject: face.qualityJSON, options: [.sortedKeys])
        // The session (if any) is spent in the same transaction as the insert: one session, one face.
        try deps.store.insertFace(id: faceID, subject: id, tenant: p.tenantID, mode: p.mode, gallery: galleryName, sealedTemplate: sealed,
                                  box: face.boxArray, quality: String(decoding: qualityData, as: UTF8.self), imageSHA256: digest,
                                  spending: session?.id)
        try deps.galleries.add(face: faceID, subject: id, template: template,
                               key: .init(tenant: p.tenantID, mode: p.mode, gallery: galleryName))
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "faces.enroll", subject: id, target: faceID,
                             outcome: "enrolled", requestID: context.requestID)
        var out: [String: Any] = ["id": faceID, "subject_id": id, "gallery": galleryName, "box": face.boxArray,
                                  "confidence": face.confidence, "quality": face.qualityJSON]
        if dedup { out["duplicates"] = duplicates }
        return try JSONResponse.make(out, status: .created)
    }

    /// The galleries of the caller's tenant and mode (created by enrolment), with their sizes.
    func galleries(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsRead.rawValue) }
        try p.require(.subjectsRead)
        return try JSONResponse.make(["data": deps.galleries.names(tenant: p.tenantID, mode: p.mode).map { ["name": $0.name, "faces": $0.faces] }])
    }

    func deleteFace(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard !p.isSession else { throw APIError.insufficientScope(Scope.subjectsWrite.rawValue) }
        try p.require(.subjectsWrite)
        let id = try subjectID(context)
        guard let face = context.parameters.get("face_id"), try deps.store.deleteFace(tenant: p.tenantID, mode: p.mode, subject: id, face: face) else {
            throw APIError.notFound("face")
        }
        deps.galleries.remove(faces: [face], tenant: p.tenantID, mode: p.mode)
        try deps.store.audit(tenant: p.tenantID, credential: p.credentialID, operation: "faces.delete", subject: id, outcome: "deleted",
                         requestID: context.requestID)
        return try JSONResponse.make(["id": face, "deleted": true])
    }
}
