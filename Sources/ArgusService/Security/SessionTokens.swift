import ArgusStore
import Crypto
public import Foundation
public import JWTKit
import Synchronization

/// The claims of a session token. Times are NumericDate seconds.
public struct SessionClaims: JWTPayload, Equatable {
    public var iss: String
    public var aud: String
    /// The customer's own reference for the end user (`customer_ref`).
    public var sub: String
    public var tenant: String
    public var mode: String
    public var purpose: String
    public var subject: String?
    public var jti: String
    public var iat: Int
    public var nbf: Int
    public var exp: Int

    // Checked by `SessionTokens.verify` with the clock skew allowance, after the signature.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Mints and verifies `tok_<mode>_<JWT>` session tokens, signed with Ed25519 through jwt-kit.
///
/// Verification pins everything before the signature is even checked: the algorithm must be
/// EdDSA, `typ` JWT, and `kid` one of our own signing keys (never a key the token names or
/// embeds). Then the signature, issuer, audience and times are checked: `exp` exactly (this server
/// issues and checks its own tokens), `nbf`/`iat` with 60 s of skew for nodes' clocks.
/// Signing keys rotate; retired keys verify until the longest-lived token they signed expires.
final class SessionTokens: Sendable {
    static let skew: TimeInterval = 60

    struct SigningKey: Sendable {
        let kid: String
        let key: Curve25519.Signing.PrivateKey
        let createdAt: Date
        let retiredAt: Date?
    }

    let store: any Store
    let configuration: ServiceConfiguration
    private let keys = Mutex<[SigningKey]>([])
    private let collection = JWTKeyCollection()
    /// When the store's signing keys were last read for a kid this node did not know.
    private let lastRefresh = Mutex<ContinuousClock.Instant?>(nil)

    init(store: any Store, configuration: ServiceConfiguration) async throws {
        self.store = store
        self.configuration = configuration
        try await load()
        try await rotateIfDue()
    }

    /// Reads the store's signing keys: adds those this node does not hold yet (all of them at
    /// start) and takes the store's word on which are retired. Nodes sharing a store then mint with
    /// the same key, the store's newest live one.
    private func load() async throws {
        let rows = try store.signingKeys()
        for row in rows where !keys.withLock({ $0.contains { $0.kid == row.kid } }) {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: row.privateKey)
            await collection.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: row.kid))
            keys.withLock { $0.append(SigningKey(kid: row.kid, key: key, createdAt: row.createdAt, retiredAt: row.retiredAt)) }
        }
        let retired = Dictionary(rows.map { ($0.kid, $0.retiredAt) }, uniquingKeysWith: { a, _ in a })
        keys.withLock { all in
            all = all.map { k in
                guard let stored = retired[k.kid], let at = stored, k.retiredAt == nil else { return k }
                return SigningKey(kid: k.kid, key: k.key, createdAt: k.createdAt, retiredAt: at)
            }.sorted { $0.createdAt < $1.createdAt }
        }
        lastLoad.withLock { $0 = .now }
    }

    /// When the store's keys were last read in full.
    private let lastLoad = Mutex<ContinuousClock.Instant>(.now)

    /// Nodes sharing a store each mint with their own key: a token naming a kid this node does not
    /// know makes it read the store's keys again, at most once a second (a flood of made-up kids
    /// costs one read a second, and nothing else).
    private func refresh() async {
        let due = lastRefresh.withLock { last -> Bool in
            if let last, ContinuousClock.now - last < .seconds(1) { return false }
            last = .now
            return true
        }
        if due { try? await load() }
    }

    /// Creates a new signing key when there is none, or the active one is older than the rotation
    /// period. The store's keys are read again first when the last read is over 10 s old, so a key
    /// another node made (or retired) is seen before this one rotates or mints.
    func rotateIfDue(now: Date = Date()) async throws {
        if ContinuousClock.now - lastLoad.withLock({ $0 }) > .seconds(10) { try await load() }
        let active = keys.withLock { $0.last { $0.retiredAt == nil } }
        if let active, now.timeIntervalSince(active.createdAt) < TimeInterval(configuration.signingKeyRotation) { return }
        try await rotate(now: now)
    }

    func rotate(now: Date = Date()) async throws {
        let key = Curve25519.Signing.PrivateKey()
        let kid = "sig_" + Secrets.random(bytes: 9)
        try store.addSigningKey(kid: kid, privateKey: key.rawRepresentation, retiringOthers: true)
        await collection.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
        keys.withLock { all in
            all = all.map { $0.retiredAt == nil ? SigningKey(kid: $0.kid, key: $0.key, createdAt: $0.createdAt, retiredAt: now) : $0 }
            all.append(SigningKey(kid: kid, key: key, createdAt: now, retiredAt: nil))
        }
    }

    /// Keys that may still verify tokens: the active one, and retired ones younger than the longest TTL.
    func usableKeys(now: Date = Date()) -> [SigningKey] {
        let horizon = TimeInterval(configuration.sessionMaxTTL) + Self.skew
        return keys.withLock { $0.filter { ($0.retiredAt.map { now.timeIntervalSince($0) < horizon }) ?? true } }
    }

    func mint(_ claims: SessionClaims) async throws -> String {
        try await rotateIfDue()
        guard let active = keys.withLock({ $0.last { $0.retiredAt == nil } }) else { throw APIError.internalError }
        var header = JWTHeader()
        header.typ = "JWT"
        let jwt = try await collection.sign(claims, kid: JWKIdentifier(string: active.kid), header: header)
        return "tok_\(claims.mode)_" + jwt
    }

    /// The claims of a valid token, or the 401 that says why it is not.
    func verify(_ token: String, now: Date = Date()) async throws(APIError) -> SessionClaims {
        let mode: Mode
        if token.hasPrefix("tok_test_") { mode = .test } else if token.hasPrefix("tok_live_") { mode = .live } else { throw .invalidCredentials }
        let jwt = String(token.dropFirst(9))
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URLDecode(String(parts[0])),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else { throw .invalidCredentials }
        guard header["alg"] as? String == "EdDSA", (header["typ"] as? String).map({ $0 == "JWT" }) ?? true,
              header["jwk"] == nil, header["jku"] == nil, header["x5u"] == nil, header["x5c"] == nil,
              let kid = header["kid"] as? String, kid.utf8.count <= 64 else {
            throw .invalidCredentials
        }
        if !usableKeys(now: now).contains(where: { $0.kid == kid }) { await refresh() }
        guard usableKeys(now: now).contains(where: { $0.kid == kid }) else { throw .invalidCredentials }
        let claims: SessionClaims
        do {
            claims = try await collection.verify(jwt, as: SessionClaims.self)
        } catch {
            throw .invalidCredentials
        }
        let t = now.timeIntervalSince1970
        guard claims.iss == configuration.issuer, claims.aud == configuration.audience, claims.mode == mode.rawValue else {
            throw .invalidCredentials
        }
        // No allowance past `exp`: this server is the only issuer and verifier of these tokens.
        guard Double(claims.exp) > t else { throw .tokenExpired }
        guard Double(claims.nbf) - Self.skew <= t, Double(claims.iat) - Self.skew <= t else { throw .invalidCredentials }
        return claims
    }

    /// The public keys still in use, as a JWK Set.
    func jwks(now: Date = Date()) -> JWKSResponse {
        JWKSResponse(keys: usableKeys(now: now).map {
            .init(kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: $0.kid, x: Self.base64URLEncode($0.key.publicKey.rawRepresentation))
        })
    }

    static func base64URLEncode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
