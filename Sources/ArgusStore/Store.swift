public import Foundation

/// Everything Argus keeps: tenants, credentials, sessions, signing keys, subjects, faces and the
/// audit trail. The boundary is what the service needs, not SQL: `SQLiteStore` is the embedded
/// default, and another backend fills the same requirements. Every method throws `StoreError`
/// only. Writes that return have reached durable storage; templates and keys are sealed inside
/// the store (with keys bound to their owner) and leave it only opened, through `forEachFace`.
public protocol Store: Sendable {
    /// The tenant a store starts with.
    var defaultTenantID: String { get }
    /// Where it lives (a path or an address), for logs.
    var location: String { get }

    // Tenants (the platform operator's)
    func tenantCount() throws -> Int
    /// A new tenant with its own data key.
    func createTenant(name: String) throws -> TenantRecord
    func tenants() throws -> [TenantRecord]
    func tenant(id: String) throws -> TenantRecord?
    /// - Returns: whether the tenant exists.
    func setTenantStatus(id: String, status: TenantRecord.Status) throws -> Bool
    func createOperatorKey(name: String?) throws -> (record: OperatorKeyRecord, secret: String)
    func operatorKey(secretDigest: Data) throws -> OperatorKeyRecord?
    func operatorKeys() throws -> [OperatorKeyRecord]
    func revokeOperatorKey(id: String) throws -> Bool

    // Console accounts, their sessions and invitations.
    /// Sign-up in one transaction: the invitation (if any) spent, the tenant, its owner and its first
    /// test-mode secret key; nothing of it when any part fails.
    func signUp(tenantName: String, email: String, passwordHash: String, inviteDigest: String?) throws -> (TenantRecord, UserRecord, IssuedCredential)
    /// An invitation accepted in one transaction: spent, and the user made, only while the tenant is active.
    func joinTenant(inviteDigest: String, email: String, passwordHash: String) throws -> UserRecord
    func createUser(tenant: String, email: String, passwordHash: String, role: UserRecord.Role) throws -> UserRecord
    func user(email: String) throws -> UserRecord?
    func user(id: String) throws -> UserRecord?
    func users(tenant: String) throws -> [UserRecord]
    /// Sets a new password hash and ends every console session of the account.
    func setPassword(userID: String, passwordHash: String) throws
    func createConsoleSession(_ session: ConsoleSessionRecord) throws
    /// A live (unexpired) console session.
    func consoleSession(digest: String) throws -> ConsoleSessionRecord?
    func setConsoleMode(digest: String, mode: Mode) throws
    func endConsoleSession(digest: String) throws
    func createInvite(_ invite: InviteRecord, createdBy: String?) throws
    /// A live (unused, unexpired) invitation.
    func invite(digest: String) throws -> InviteRecord?
    /// Uses an invitation, once. - Returns: it, or nil when unknown, used or expired.
    func takeInvite(digest: String) throws -> InviteRecord?
    /// Recent sessions of a tenant and mode, newest first.
    func sessions(tenant: String, mode: Mode, limit: Int) throws -> [SessionRecord]
    /// Audit rows of a tenant, newest first.
    func auditEntries(tenant: String, filter: AuditFilter) throws -> [AuditRecord]

    // Credentials. Secrets are never stored: only their SHA-256 digests (see `Secrets`).
    func createCredential(tenant: String, mode: Mode, kind: Credential.Kind, scopes: Set<Scope>, name: String?, expiresAt: Date?) throws -> IssuedCredential
    /// On a store with no credential at all, the default tenant's first test-mode secret key
    /// (serialised with other first uses, so two processes never both create one).
    func issueFirstKey() throws -> IssuedCredential?
    func credential(id: String) throws -> Credential?
    /// The credential whose lookup value is `lookup` (`k:<digest hex>` for keys, `c:<client key>`).
    func credential(lookup: String) throws -> Credential?
    func credentials(tenant: String, mode: Mode?) throws -> [Credential]
    /// Replaces a live credential by a new one of the same kind, mode, scopes and lifetime; the
    /// old one keeps working for `overlap` seconds. Revoked or expired credentials are refused.
    func roll(credentialID: String, overlap: TimeInterval, now: Date) throws -> IssuedCredential
    /// Revokes at once, with every live session it minted. - Returns: whether it was live.
    @discardableResult func revoke(credentialID: String) throws -> Bool
    /// Records use (at most once a minute per credential; failures are not the caller's concern).
    func touch(credentialID: String)
    /// Takes one token of `key`'s bucket (refilled at `rate` a second up to `burst`), decided by the
    /// store when several nodes share it. - Returns: whether one was left, or nil when the store
    /// leaves rate limits to the process (one process per embedded store).
    func takeRateToken(key: String, rate: Double, burst: Double, now: Double) throws -> Bool?

    // Sessions
    func createSession(_ session: NewSession) throws
    func session(id: String) throws -> SessionRecord?
    /// Claims one attempt atomically. - Throws: `sessionUnknown`, `sessionRevoked`, `sessionSpent`.
    func beginAttempt(sessionID: String) throws -> SessionRecord
    /// Spends a session with its success: of concurrent successes exactly one returns true.
    func spend(sessionID: String) throws -> Bool
    func revokeSession(tenant: String, mode: Mode, id: String) throws -> Bool
    /// Records one attempt's outcome; with `spending`, spends the session in the same transaction.
    /// - Throws: `sessionSpent` (and records nothing) when `spending` finds it already spent.
    @discardableResult
    func recordAttempt(sessionID: String, score: Double?, threshold: Double?, match: Bool?, outcome: String, spending: Bool) throws -> Bool
    /// Gives back a claimed attempt that ended before any analysis (the server shed it:
    /// `overloaded`): a busy server never costs a phone its tries. Nothing is recorded.
    func refundAttempt(sessionID: String) throws
    func attempts(sessionID: String) throws -> [SessionAttempt]
    /// A page of a tenant's sessions in one mode, newest first.
    func sessions(tenant: String, mode: Mode, filter: SessionFilter) throws -> (sessions: [SessionRecord], hasMore: Bool)

    // Session-token signing keys, sealed under the master key.
    func signingKeys() throws -> [SigningKeyRecord]
    func addSigningKey(kid: String, privateKey: Data, retiringOthers: Bool) throws

    // Subjects
    func createSubject(tenant: String, mode: Mode, externalID: String?, custody: KeyCustody) throws -> Subject
    func subject(tenant: String, mode: Mode, id: String) throws -> Subject?
    /// A page after the subject `after` (cursor pagination), optionally by external id.
    func subjects(tenant: String, mode: Mode, limit: Int, after: String?, externalID: String?) throws -> SubjectPage
    /// Deletes a subject and its faces. - Returns: the deleted face ids, nil if there was no such subject.
    func deleteSubject(tenant: String, mode: Mode, id: String) throws -> [String]?

    // Faces: the one way a face is written.
    /// Writes `faces` in one durable transaction, each sealed under its tenant's data key and
    /// bound to its face id. A photo already enrolled on its subject is not written again (its
    /// `FaceWrite` says `alreadyEnrolled`). With `spending`, that session is spent in the same
    /// transaction, and nothing is written if it was spent or revoked meanwhile.
    func writeFaces(_ faces: [NewFace], tenant: String, mode: Mode, spending session: String?) throws -> [FaceWrite]
    /// The face already enrolled on `subject` from a photo with this digest, if any.
    func enrolledFace(tenant: String, mode: Mode, subject: SubjectReference, imageSHA256: String) throws -> FaceWrite?
    func deleteFace(tenant: String, mode: Mode, subject: String, face: String) throws -> Bool
    /// The templates of a client-custody subject, opened with its key for this call only.
    /// - Throws: `sealed` when the key does not open them.
    func custodyTemplates(tenant: String, mode: Mode, subject: String, key: Data) throws -> [[Float]]
    /// Every stored face (of one tenant and mode, or all), its template opened, in batches of at
    /// most `batch`, in the order written; client-custody faces never. Digests are read with `digests`.
    func forEachFaceBatch(tenant: String?, mode: Mode?, batch: Int, digests: Bool, _ body: (FaceBatch) throws -> Void) throws
    /// Server-custody faces per tenant, mode and gallery (what a full load will bring, to size it).
    func faceCounts() throws -> [FaceCount]

    // Signed requests: signers on credentials, challenges, and user actions (each single-use).
    func addSigner(credentialID: String, alg: String, publicKeyPEM: String) throws -> SignerRecord
    func signers(credentialID: String) throws -> [SignerRecord]
    func revokeSigner(credentialID: String, id: String) throws -> Bool
    func setSignedRequests(credentialID: String, required: Bool) throws
    func createChallenge(_ challenge: ChallengeRecord) throws
    /// Marks a challenge taken, once. - Returns: it, or nil when unknown or already taken.
    func takeChallenge(id: String) throws -> ChallengeRecord?
    func createUserAction(_ action: UserActionRecord) throws
    /// Marks a user action of a credential of this tenant and mode used, once.
    /// - Returns: it, or nil when unknown, already used, or another tenant's or mode's.
    func consumeUserAction(id: String, tenant: String, mode: Mode) throws -> UserActionRecord?

    // Application public keys (client-held template keys are wrapped to the latest).
    func addAppKey(tenant: String, mode: Mode, alg: String, publicKeyPEM: String) throws -> AppKeyRecord
    func appKey(tenant: String, mode: Mode) throws -> AppKeyRecord?
    /// Every application key of a tenant and mode, newest first.
    func appKeys(tenant: String, mode: Mode) throws -> [AppKeyRecord]

    // Customer signing keys (customer tokens are JWTs the tenant's backend signs) and self-enrolment.
    func addCustomerKey(tenant: String, mode: Mode, kid: String, alg: String, publicKeyPEM: String) throws -> CustomerKeyRecord
    func customerKeys(tenant: String, mode: Mode) throws -> [CustomerKeyRecord]
    /// A live key of the tenant by its kid (kids are unique per tenant).
    func customerKey(tenant: String, kid: String) throws -> CustomerKeyRecord?
    func deleteCustomerKey(tenant: String, mode: Mode, id: String) throws -> Bool
    func customerSelfEnrollment(tenant: String) throws -> Bool
    func setCustomerSelfEnrollment(tenant: String, enabled: Bool) throws

    // Webhooks: endpoints (secrets sealed), and the outbox: events with their deliveries, written in
    // the transaction of the change that caused them (faces, subjects and sessions do it themselves).
    func createWebhookEndpoint(tenant: String, mode: Mode, url: String, events: Set<EventType>) throws -> (WebhookEndpointRecord, String)
    func webhookEndpoints(tenant: String, mode: Mode) throws -> [WebhookEndpointRecord]
    func webhookEndpoint(tenant: String, mode: Mode, id: String) throws -> WebhookEndpointRecord?
    func updateWebhookEndpoint(tenant: String, mode: Mode, id: String, url: String?, events: Set<EventType>?, enabled: Bool?) throws -> WebhookEndpointRecord?
    func deleteWebhookEndpoint(tenant: String, mode: Mode, id: String) throws -> Bool
    func rollWebhookSecret(tenant: String, mode: Mode, id: String) throws -> String?
    func emit(_ events: [NewEvent], tenant: String, mode: Mode) throws
    /// Deliveries due now, at most one per endpoint and `limit` in all, each claimed (leased) for the caller.
    func dueDeliveries(limit: Int, now: Date) throws -> [DueDelivery]
    func recordDelivery(id: String, endpointID: String, delivered: Bool, status: Int?, error: String?, retryAt: Date?, disableBefore: Date) throws
    func deliveries(endpointID: String, limit: Int) throws -> [DeliveryRecord]
    /// Announces sessions that expired unfinished (`session.expired`, once each). - Returns: how many.
    func announceExpiredSessions(now: Date) throws -> Int

    // Audit: an append-only trail. A failed write is thrown, never dropped silently.
    func audit(_ entry: AuditEntry) throws
    /// Audit rows, oldest first (for operators and tests).
    func auditRows(tenant: String?) throws -> [[String: String]]
}

extension Store {
    public func createCredential(tenant: String, mode: Mode, kind: Credential.Kind, scopes: Set<Scope>) throws -> IssuedCredential {
        try createCredential(tenant: tenant, mode: mode, kind: kind, scopes: scopes, name: nil, expiresAt: nil)
    }

    public func writeFace(_ face: NewFace, tenant: String, mode: Mode, spending session: String? = nil) throws -> FaceWrite {
        guard let write = try writeFaces([face], tenant: tenant, mode: mode, spending: session).first else {
            throw StoreError.unavailable("no face was written")
        }
        return write
    }

    public func createSubject(tenant: String, mode: Mode, externalID: String?) throws -> Subject {
        try createSubject(tenant: tenant, mode: mode, externalID: externalID, custody: .server)
    }

    public func auditRows() throws -> [[String: String]] { try auditRows(tenant: nil) }

    public func takeRateToken(key: String, rate: Double, burst: Double, now: Double) throws -> Bool? { nil }
}

extension Store {
    /// Every stored face (of one tenant and mode, or all), its template opened; client-custody faces never.
    public func forEachFace(tenant: String?, mode: Mode?, _ body: (FaceTemplate) throws -> Void) throws {
        try forEachFaceBatch(tenant: tenant, mode: mode, batch: 1024, digests: true) { batch in
            for run in batch.runs {
                for i in run.faces {
                    try body(FaceTemplate(faceID: batch.faceIDs[i], subjectID: batch.subjectIDs[i], tenantID: run.tenant, mode: run.mode,
                                          gallery: run.gallery, imageSHA256: batch.imageSHA256s[i], template: Array(batch.template(i))))
                }
            }
        }
    }
}
