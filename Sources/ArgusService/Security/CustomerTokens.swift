import ArgusStore
import Crypto
import CryptoExtras
import Foundation

/// Customer tokens: JWTs the tenant's own backend signs (RS256, ES256 or EdDSA) with a key it
/// registered (`POST /v1/customer_keys`), acting for one end user: `sub` is the `external_id` of
/// their subject. Checked in this order, refusing on the first failure:
/// the header names `alg` and `kid` only (no key named or embedded: `jwk`, `jku`, `x5u`, `x5c`);
/// `workspace_id` names an active tenant; `kid` is a live key of that tenant and `alg` is that key's
/// algorithm (so never `none` nor HS*); the signature holds; `type` is `customer`; `exp` is in the
/// future (else `token_expired`); `exp − iat` is within the configured maximum; `iat` and `nbf` are
/// not more than 60 s ahead.
struct CustomerTokens: Sendable {
    let store: any Store
    let maxLifetime: Int
    static let skew = 60.0

    struct Claims: Sendable {
        let tenantID: String
        let mode: Mode
        let keyID: String
        let subject: String
        let gallery: String
        let expires: Date
    }

    /// Whether a bearer token is shaped like a JWT (three base64url parts).
    static func looksLikeJWT(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy(\.isBase64URLCharacter) }
    }

    func verify(_ token: String, now: Date = Date()) throws -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, token.utf8.count <= 8192,
              let headerData = Secrets.base64URLDecode(parts[0]), let payloadData = Secrets.base64URLDecode(parts[1]),
              let signature = Secrets.base64URLDecode(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: payloadData) as? [String: Any] else { throw APIError.invalidCredentials }
        guard let alg = header["alg"] as? String, let kid = header["kid"] as? String, kid.utf8.count <= 256,
              header["jwk"] == nil, header["jku"] == nil, header["x5u"] == nil, header["x5c"] == nil, header["crit"] == nil,
              (header["typ"] as? String).map({ $0.uppercased() == "JWT" }) ?? true else { throw APIError.invalidCredentials }
        guard let tenantID = claims["workspace_id"] as? String, tenantID.utf8.count <= 64,
              let tenant = try store.tenant(id: tenantID), tenant.status == .active,
              let key = try store.customerKey(tenant: tenantID, kid: kid), key.alg == alg else { throw APIError.invalidCredentials }
        let signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        guard Self.isValid([UInt8](signature), for: signingInput, alg: key.alg, pem: key.publicKeyPEM) else { throw APIError.invalidCredentials }
        guard claims["type"] as? String == "customer", let sub = claims["sub"] as? String, !sub.isEmpty, sub.utf8.count <= 256,
              let exp = (claims["exp"] as? NSNumber)?.doubleValue, let iat = (claims["iat"] as? NSNumber)?.doubleValue,
              claims["jti"] is String else { throw APIError.invalidCredentials }
        let t = now.timeIntervalSince1970
        guard exp > t else { throw APIError.tokenExpired }
        guard exp - iat <= Double(maxLifetime), iat - Self.skew <= t else { throw APIError.invalidCredentials }
        if let nbf = (claims["nbf"] as? NSNumber)?.doubleValue, nbf - Self.skew > t { throw APIError.invalidCredentials }
        var gallery = "default"
        if let code = claims["product_space_code"] {
            guard let text = code as? String, let valid = try? GalleryName.validate(text) else { throw APIError.invalidCredentials }
            gallery = valid
        }
        return Claims(tenantID: tenantID, mode: key.mode, keyID: key.id, subject: sub, gallery: gallery, expires: Date(timeIntervalSince1970: exp))
    }

    /// A JWS signature: RS256 PKCS#1 v1.5, ES256 raw r‖s (64 bytes), EdDSA raw 64 bytes.
    static func isValid(_ signature: [UInt8], for input: [UInt8], alg: String, pem: String) -> Bool {
        switch alg {
        case "RS256":
            guard let verifier = try? PublicKeys.Verifier(alg: "RS256", pem: pem) else { return false }
            return verifier.isValid(signature, for: input)
        case "ES256":
            guard signature.count == 64, let key = try? P256.Signing.PublicKey(derRepresentation: try PublicKeys.der(pem: pem)),
                  let s = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(s, for: input)
        case "EdDSA":
            guard let verifier = try? PublicKeys.Verifier(alg: "Ed25519", pem: pem) else { return false }
            return verifier.isValid(signature, for: input)
        default:
            return false
        }
    }

    /// The key's algorithm as registered, checked against its PEM: RS256 (≥ 2048-bit), ES256 (P-256), EdDSA (Ed25519).
    static func validate(alg: String, pem: String) throws {
        switch alg {
        case "RS256": _ = try PublicKeys.Verifier(alg: "RS256", pem: pem)
        case "ES256": _ = try PublicKeys.Verifier(alg: "ES256", pem: pem)
        case "EdDSA": _ = try PublicKeys.Verifier(alg: "Ed25519", pem: pem)
        default: throw PublicKeys.Failure.invalid("alg: expected RS256, ES256 or EdDSA")
        }
    }
}

extension UInt8 {
    var isBase64URLCharacter: Bool {
        (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || (0x30...0x39).contains(self) || self == 0x2D || self == 0x5F
    }
}
