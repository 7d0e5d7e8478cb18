import ArgusEnrollment
import ArgusFace
import ArgusStore
public import Foundation
public import Hummingbird

/// `/v1/subjects`, their faces and `/v1/galleries`. Enrolment is acknowledged only after the face
/// is committed (synchronously) to the store and added to the in-memory gallery, by `Enroller`.
struct SubjectsController {
    let store: any Store
    let enroller: Enroller
    let galleries: Galleries
    let faces: FaceAnalysisService
    let body: RequestBody
    let events: LiveEvents

    /// `read` and `write` refuse session tokens; `enrol` lets an enrolment session in (for its subject only).
    func register(read: some RouterMethods<ArgusRequestContext>, write: some RouterMethods<ArgusRequestContext>,
                  enrol: some RouterMethods<ArgusRequestContext>) {
        write.post("/v1/subjects") { request, context in try await create(request, context) }
        read.get("/v1/subjects") { request, context in try list(request, context) }
        read.get("/v1/subjects/:id") { _, context in try show(context) }
        write.delete("/v1/subjects/:id") { _, context in try delete(context) }
        enrol.post("/v1/subjects/:id/faces") { request, context in try await enroll(request, context) }
        write.delete("/v1/subjects/:id/faces/:face_id") { _, context in try deleteFace(context) }
        read.get("/v1/galleries") { _, context in try list(galleriesOf: context) }
    }

    private func subjectID(_ context: ArgusRequestContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw APIError.notFound("subject") }
        return id
    }

    func create(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        let input = try await body.decode(CreateSubjectRequest.self, from: request)
        let external = input.externalID
        if let external, external.isEmpty || external.utf8.count > 256 { throw APIError.invalidRequest("external_id must be 1…256 bytes") }
        let custody = input.keyCustody ?? .server
        if custody == .client, try store.appKey(tenant: p.tenantID, mode: p.mode) == nil {
            throw APIError.invalidRequest("key_custody client: register an application key first (POST /v1/app_keys)")
        }
        let subject = try store.createSubject(tenant: p.tenantID, mode: p.mode, externalID: external, custody: custody)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "subjects.create", subject: subject.id,
                                   outcome: "created", requestID: context.requestID))
        return try JSONResponse.make(SubjectResponse(subject), status: .created)
    }

    func list(_ request: Request, _ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let query = request.uri.queryParameters
        var limit = 20
        if let text = query.get("limit") {
            guard let n = Int(text), (1...100).contains(n) else { throw APIError.invalidRequest("limit: expected an integer 1…100") }
            limit = n
        }
        let page = try store.subjects(tenant: p.tenantID, mode: p.mode, limit: limit, after: query.get("starting_after"),
                                      externalID: query.get("external_id"))
        return try JSONResponse.make(SubjectListResponse(data: page.subjects.map(SubjectResponse.init), hasMore: page.hasMore))
    }

    func show(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        guard let s = try store.subject(tenant: p.tenantID, mode: p.mode, id: try subjectID(context)) else { throw APIError.notFound("subject") }
        return try JSONResponse.make(SubjectResponse(s))
    }

    func delete(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let id = try subjectID(context)
        guard let removed = try store.deleteSubject(tenant: p.tenantID, mode: p.mode, id: id) else { throw APIError.notFound("subject") }
        galleries.index(tenant: p.tenantID, mode: p.mode).remove(faces: removed)
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "subjects.delete", subject: id, outcome: "deleted",
                                   requestID: context.requestID))
        return try JSONResponse.make(DeletedResponse(id: id))
    }

    /// How an enrolment was asked for: from the query and the body's fields (the query wins).
    struct EnrolmentOptions {
        var gallery = "default"
        var dedup = false
        var policy = FacePipeline.EnrollmentPolicy.single
        var minFaceSize: Int?
        /// Whether anything beyond the image was asked for.
        var any = false

        init(query: (String) -> String?, fields: RequestBody.EnrollmentFields) throws {
            func flag(_ name: String, _ fallback: Bool?) throws -> Bool? {
                guard let text = query(name) else { return fallback }
                guard let value = Bool(text.lowercased()) else { throw APIError.invalidRequest("\(name): expected true or false") }
                return value
            }
            let galleryName = query("gallery") ?? fields.gallery
            let dedupFlag = try flag("dedup", fields.dedup)
            let largest = try flag("largest_face", fields.largestFace)
            var minimum = fields.minFaceSize
            if let text = query("min_face_size") {
                guard let n = Int(text) else { throw APIError.invalidRequest("min_face_size: expected an integer 0…4096") }
                minimum = n
            }
            if let minimum, !(0...4096).contains(minimum) { throw APIError.invalidRequest("min_face_size: expected an integer 0…4096") }
            any = galleryName != nil || dedupFlag != nil || largest != nil || minimum != nil
            gallery = try GalleryName.validate(galleryName ?? "default")
            dedup = dedupFlag ?? false
            policy = largest == true ? .largest : .single
            minFaceSize = minimum
        }
    }

    func enroll(_ request: Request, _ context: ArgusRequestContext) async throws -> Response {
        let p = try context.principal()
        // Customer tokens enrol through /v1/customer/faces, to their own subject only.
        guard !p.isCustomer else { throw APIError.insufficientScope("a key or an enrolment session (customer tokens use /v1/customer/faces)") }
        return try await enroll(request, context, subject: try subjectID(context))
    }

    /// Enrols the photo of `request` on subject `id`, for keys, enrolment sessions and customer tokens.
    func enroll(_ request: Request, _ context: ArgusRequestContext, subject id: String) async throws -> Response {
        let p = try context.principal()
        var session: SessionRecord?
        if case .session(let claims) = p.kind {
            guard claims.purpose == SessionRecord.Purpose.enroll.rawValue, claims.subject == id else {
                throw APIError.insufficientScope("this session allows \(claims.purpose) on subject \(claims.subject ?? "none") only")
            }
        }
        // Everything beyond the photo is the key holder's to choose, never a token's.
        let sessionRefusal = APIError.invalidRequest("a session or customer token sends the image only (gallery, dedup, largest_face and min_face_size are not allowed)")
        if p.isEndUserToken, !request.uri.queryParameters.isEmpty { throw sessionRefusal }
        guard let subject = try store.subject(tenant: p.tenantID, mode: p.mode, id: id) else { throw APIError.notFound("subject") }
        try faces.admit()
        let input = try await body.image(request)
        let parameters = request.uri.queryParameters
        var options = try EnrolmentOptions(query: { parameters.get($0) }, fields: input.fields)
        // A customer token's gallery is its `product_space_code`.
        if case .customer(_, let gallery) = p.kind { options.gallery = gallery }
        if p.isEndUserToken, options.any { throw sessionRefusal }
        if subject.custody == .client {
            return try await enrollCustody(subject, input.bytes, options, p, session: p.isSession ? try store.beginAttempt(sessionID: p.credentialID) : nil,
                                           context)
        }
        // Dedup answers with other subjects' ids and scores: that is identification.
        if options.dedup { try p.require(.identify) }
        if p.isSession { session = try store.beginAttempt(sessionID: p.credentialID) }
        let digest = Enroller.digest(input.bytes)
        // The same photo again on the same subject: nothing new to enrol (batch re-runs are idempotent).
        if let existing = try enroller.alreadyEnrolled(tenant: p.tenantID, mode: p.mode, subject: .id(id), imageSHA256: digest) {
            // The face is enrolled: for an enrolment session that is its success, counted once.
            if let session {
                do {
                    try store.recordAttempt(sessionID: session.id, score: nil, threshold: nil, match: nil, outcome: "already_enrolled", spending: true)
                } catch StoreError.sessionSpent {
                    throw APIError.sessionSpent("This session was already used successfully")
                }
            }
            return try JSONResponse.make(FaceAlreadyEnrolledResponse(id: existing.faceID, subjectID: id))
        }
        let face: FaceRecord
        do {
            face = try await faces.enrollmentFace(from: input.bytes, policy: options.policy, minFaceSize: options.minFaceSize)
        } catch let error as APIError {
            try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "faces.enroll", subject: id, outcome: error.code,
                                       requestID: context.requestID))
            if let session { try store.endAttempt(session, refusedWith: error) }
            throw error
        }
        let index = galleries.index(tenant: p.tenantID, mode: p.mode)
        let dedup = options.dedup ? Enroller.Dedup(threshold: MatchThresholds.identification(gallerySize: max(1, index.count))) : nil
        // The session (if any) is spent in the same transaction as the insert: one session, one face.
        guard let committed = try enroller.commit([try face.newFace(subject: .id(id), gallery: options.gallery, imageSHA256: digest)],
                                                  tenant: p.tenantID, mode: p.mode, spending: session?.id, dedup: dedup).first else {
            throw APIError.internalError
        }
        if committed.write.alreadyEnrolled {
            // A concurrent copy of this request enrolled the photo first.
            return try JSONResponse.make(FaceAlreadyEnrolledResponse(id: committed.write.faceID, subjectID: id))
        }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "faces.enroll", subject: id,
                                   target: committed.write.faceID, outcome: "enrolled", requestID: context.requestID))
        if let session { try store.recordAttempt(sessionID: session.id, score: nil, threshold: nil, match: nil, outcome: "enrolled", spending: false) }
        events.publish("face.enrolled", tenant: p.tenantID, mode: p.mode, externalID: subject.externalID,
                       data: ["face_id": committed.write.faceID, "subject_id": id])
        return try JSONResponse.make(FaceEnrolledResponse(
            id: committed.write.faceID, subjectID: id, gallery: options.gallery, box: face.boxArray, confidence: face.confidence,
            quality: StoredQuality(face),
            duplicates: options.dedup ? committed.duplicates.map { CandidateResponse(subjectID: $0.subject, score: $0.score) } : nil), status: .created)
    }

    /// A client-custody subject: a fresh key K seals the face (replacing the subject's older faces,
    /// sealed with the old K); K is wrapped to the tenant's application key and returned once.
    /// Neither K nor the wrapped K is kept. Never searched, never deduplicated.
    private func enrollCustody(_ subject: Subject, _ bytes: [UInt8], _ options: EnrolmentOptions, _ p: Principal, session: SessionRecord?,
                               _ context: ArgusRequestContext) async throws -> Response {
        guard !options.dedup else { throw APIError.invalidRequest("dedup: client-custody subjects are never part of dedup") }
        guard let appKey = try store.appKey(tenant: p.tenantID, mode: p.mode) else {
            throw APIError.invalidRequest("register an application key first (POST /v1/app_keys)")
        }
        let wrapper = try PublicKeys.Wrapper(alg: appKey.alg, pem: appKey.publicKeyPEM)
        let face: FaceRecord
        do { face = try await faces.enrollmentFace(from: bytes, policy: options.policy, minFaceSize: options.minFaceSize) } catch let error as APIError {
            if let session { try store.endAttempt(session, refusedWith: error) }
            throw error
        }
        let key = Data(Secrets.randomBytes(32))
        let wrapped = try wrapper.wrap(key)
        // No photo digest for such faces: nothing in the store may tie a photo to them.
        guard let committed = try enroller.commit([try face.newFace(subject: .id(subject.id), gallery: options.gallery, imageSHA256: nil, subjectKey: key)],
                                                  tenant: p.tenantID, mode: p.mode, spending: session?.id).first else { throw APIError.internalError }
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "faces.enroll", subject: subject.id,
                                   target: committed.write.faceID, outcome: "enrolled (client custody, key rotated)", requestID: context.requestID))
        if let session { try store.recordAttempt(sessionID: session.id, score: nil, threshold: nil, match: nil, outcome: "enrolled", spending: false) }
        var response = FaceEnrolledResponse(id: committed.write.faceID, subjectID: subject.id, gallery: options.gallery, box: face.boxArray,
                                            confidence: face.confidence, quality: StoredQuality(face), duplicates: nil)
        response.subjectKey = Secrets.base64URL(wrapped)
        response.appKeyID = appKey.id
        return try JSONResponse.make(response, status: .created)
    }

    /// The galleries of the caller's tenant and mode (created by enrolment), with their sizes.
    func list(galleriesOf context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let all = galleries.index(tenant: p.tenantID, mode: p.mode).partitions.filter { $0.faces > 0 }
        return try JSONResponse.make(ListResponse(data: all.map { GalleryResponse(name: $0.name, faces: $0.faces) }))
    }

    func deleteFace(_ context: ArgusRequestContext) throws -> Response {
        let p = try context.principal()
        let id = try subjectID(context)
        guard let face = context.parameters.get("face_id"), try store.deleteFace(tenant: p.tenantID, mode: p.mode, subject: id, face: face) else {
            throw APIError.notFound("face")
        }
        galleries.index(tenant: p.tenantID, mode: p.mode).remove(faces: [face])
        try store.audit(AuditEntry(tenant: p.tenantID, mode: p.mode, credential: p.credentialID, operation: "faces.delete", subject: id, target: face,
                                   outcome: "deleted", requestID: context.requestID))
        return try JSONResponse.make(DeletedResponse(id: face))
    }
}
