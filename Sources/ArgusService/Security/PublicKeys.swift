import ArgusStore
import CArgusSecp256k1
import Crypto
import CryptoExtras
public import Foundation

/// Public keys as customers register them (PEM, SubjectPublicKeyInfo), and what they verify or
/// encrypt: signers of user actions (Ed25519, ES256, ES256K, RS256) and application keys for
/// client-held template keys (RSA-OAEP-256, HPKE-X25519).
enum PublicKeys {
    enum Failure: Error, CustomStringConvertible {
        case invalid(String)
        var description: String {
            switch self { case .invalid(let why): return why }
        }
    }

    /// The DER bytes of a PEM block (`-----BEGIN PUBLIC KEY-----`).
    static func der(pem: String) throws -> [UInt8] {
        guard pem.utf8.count <= 16_384 else { throw Failure.invalid("public_key_pem: longer than 16 KiB") }
        let body = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("-----") && !$0.isEmpty }.joined()
        guard pem.contains("-----BEGIN PUBLIC KEY-----"), let data = Data(base64Encoded: body), !data.isEmpty else {
            throw Failure.invalid("public_key_pem: expected a PEM \"PUBLIC KEY\" block (SubjectPublicKeyInfo)")
        }
        return [UInt8](data)
    }

    /// SubjectPublicKeyInfo: the algorithm's OIDs (DER, tag and length included) and the key bits.
    static func spki(_ der: [UInt8]) throws -> (oids: [[UInt8]], key: [UInt8]) {
        var reader = DERReader(der)
        guard var outer = try reader.read(tag: 0x30).map(DERReader.init), var algorithm = try outer.read(tag: 0x30).map(DERReader.init),
              let bits = try outer.read(tag: 0x03), reader.atEnd, outer.atEnd, bits.first == 0 else {
            throw Failure.invalid("public_key_pem: not a SubjectPublicKeyInfo")
        }
        var oids: [[UInt8]] = []
        while !algorithm.atEnd {
            if let oid = try algorithm.read(tag: 0x06) { oids.append(oid) } else { _ = try algorithm.readAny() }
        }
        return (oids, Array(bits.dropFirst()))
    }

    /// The encodings of Ed25519's small-order points (the sign bit ignored), as libsodium lists them.
    static let smallOrderEd25519: [[UInt8]] = [
        [UInt8](repeating: 0, count: 32),
        [0x01] + [UInt8](repeating: 0, count: 31),
        [0x26, 0xE8, 0x95, 0x8F, 0xC2, 0xB2, 0x27, 0xB0, 0x45, 0xC3, 0xF4, 0x89, 0xF2, 0xEF, 0x98, 0xF0,
         0xD5, 0xDF, 0xAC, 0x05, 0xD3, 0xC6, 0x33, 0x39, 0xB1, 0x38, 0x02, 0x88, 0x6D, 0x53, 0xFC, 0x05],
        [0xC7, 0x17, 0x6A, 0x70, 0x3D, 0x4D, 0xD8, 0x4F, 0xBA, 0x3C, 0x0B, 0x76, 0x0D, 0x10, 0x67, 0x0F,
         0x2A, 0x20, 0x53, 0xFA, 0x2C, 0x39, 0xCC, 0xC6, 0x4E, 0xC7, 0xFD, 0x77, 0x92, 0xAC, 0x03, 0x7A],
        [0xEC] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
        [0xED] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
        [0xEE] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
    ]

    static func hasSmallOrder(ed25519 key: [UInt8]) -> Bool {
        guard key.count == 32 else { return true }
        return smallOrderEd25519.contains { bad in zip(key.prefix(31), bad.prefix(31)).allSatisfy { $0 == $1 } && key[31] & 0x7F == bad[31] }
    }

    /// Whether agreement with `key` yields a non-zero secret (a trial with a fresh private key).
    static func agreesUsefully(_ key: Curve25519.KeyAgreement.PublicKey) -> Bool {
        guard let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: key) else { return false }
        return secret.withUnsafeBytes { bytes in bytes.contains { $0 != 0 } }
    }

    static let ed25519OID: [UInt8] = [0x2B, 0x65, 0x70]
    static let x25519OID: [UInt8] = [0x2B, 0x65, 0x6E]
    static let ecPublicKeyOID: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let secp256k1OID: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x0A]

    /// A signer's verifying key.
    enum Verifier: Sendable {
        case ed25519(Curve25519.Signing.PublicKey)
        case es256(P256.Signing.PublicKey)
        case es256k(Secp256k1PublicKey)
        case rs256(_RSA.Signing.PublicKey)

        /// - Throws: `Failure.invalid` naming what is wrong with the key.
        init(alg: String, pem: String) throws {
            let der = try PublicKeys.der(pem: pem)
            switch alg {
            case "Ed25519":
                let info = try PublicKeys.spki(der)
                guard info.oids == [PublicKeys.ed25519OID], info.key.count == 32 else { throw Failure.invalid("public_key_pem: not an Ed25519 key") }
                // A small-order key verifies a fixed forgery for every message: never a signer.
                guard !PublicKeys.hasSmallOrder(ed25519: info.key) else { throw Failure.invalid("public_key_pem: a small-order Ed25519 point is not a key") }
                self = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: info.key))
            case "ES256":
                do { self = .es256(try P256.Signing.PublicKey(derRepresentation: der)) } catch { throw Failure.invalid("public_key_pem: not a P-256 key") }
            case "ES256K":
                let info = try PublicKeys.spki(der)
                guard info.oids == [PublicKeys.ecPublicKeyOID, PublicKeys.secp256k1OID], let key = Secp256k1PublicKey(info.key) else {
                    throw Failure.invalid("public_key_pem: not a secp256k1 key")
                }
                self = .es256k(key)
            case "RS256":
                let key: _RSA.Signing.PublicKey
                do { key = try _RSA.Signing.PublicKey(derRepresentation: der) } catch { throw Failure.invalid("public_key_pem: not an RSA key") }
                guard key.keySizeInBits >= 2048 else { throw Failure.invalid("public_key_pem: RSA keys need at least 2048 bits") }
                self = .rs256(key)
            default:
                throw Failure.invalid("alg: expected Ed25519, ES256, ES256K or RS256")
            }
        }

        /// Whether `signature` (the algorithm's usual encoding) signs `message`.
        func isValid(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            switch self {
            case .ed25519(let key): return key.isValidSignature(signature, for: message)
            case .es256(let key):
                guard let s = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
                return key.isValidSignature(s, for: message)
            case .es256k(let key): return key.isValid(derSignature: signature, digest: Array(SHA256.hash(data: message)))
            case .rs256(let key):
                return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
            }
        }
    }

    /// An application key that wraps client-held subject keys.
    enum Wrapper {
        case rsaOAEP(_RSA.Encryption.PublicKey)
        case hpkeX25519(Curve25519.KeyAgreement.PublicKey)

        static let hpkeInfo = Data("argus subject key".utf8)

        init(alg: String, pem: String) throws {
            let der = try PublicKeys.der(pem: pem)
            switch alg {
            case "RSA-OAEP-256":
                let key: _RSA.Encryption.PublicKey
                do { key = try _RSA.Encryption.PublicKey(derRepresentation: der) } catch { throw Failure.invalid("public_key_pem: not an RSA key") }
                guard key.keySizeInBits >= 2048 else { throw Failure.invalid("public_key_pem: RSA keys need at least 2048 bits") }
                self = .rsaOAEP(key)
            case "HPKE-X25519":
                let info = try PublicKeys.spki(der)
                guard info.oids == [PublicKeys.x25519OID], info.key.count == 32 else { throw Failure.invalid("public_key_pem: not an X25519 key") }
                let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: info.key)
                // A low-order point makes every shared secret zero, and the wrapped key readable by anyone.
                guard PublicKeys.agreesUsefully(key) else { throw Failure.invalid("public_key_pem: a low-order X25519 point is not a key") }
                self = .hpkeX25519(key)
            default:
                throw Failure.invalid("alg: expected RSA-OAEP-256 or HPKE-X25519")
            }
        }

        /// `key` encrypted to this public key: RSA-OAEP (SHA-256) ciphertext, or for HPKE (DHKEM
        /// X25519, HKDF-SHA256, ChaCha20-Poly1305, info "argus subject key") enc ‖ ciphertext.
        func wrap(_ key: Data) throws -> Data {
            switch self {
            case .rsaOAEP(let public_): return try public_.encrypt(key, padding: .PKCS1_OAEP_SHA256)
            case .hpkeX25519(let public_):
                guard PublicKeys.agreesUsefully(public_) else { throw Failure.invalid("the application key is a low-order point") }
                var sender = try HPKE.Sender(recipientKey: public_, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Self.hpkeInfo)
                let sealed = try sender.seal(key)
                return sender.encapsulatedKey + sealed
            }
        }
    }
}

/// A secp256k1 public key, verified with libsecp256k1.
struct Secp256k1PublicKey: @unchecked Sendable {
    // @unchecked: an immutable value; the context is created once and only read.
    private let key: secp256k1_pubkey
    nonisolated(unsafe) private static let context = argus_secp256k1_verify_context()

    init?(_ bytes: [UInt8]) {
        var key = secp256k1_pubkey()
        guard bytes.count == 33 || bytes.count == 65, let context = Self.context,
              secp256k1_ec_pubkey_parse(context, &key, bytes, bytes.count) == 1 else { return nil }
        self.key = key
    }

    /// ECDSA (DER) over a 32-byte digest; high-S signatures are normalised first (standard ECDSA allows both).
    func isValid(derSignature: [UInt8], digest: [UInt8]) -> Bool {
        guard digest.count == 32, let context = Self.context else { return false }
        var signature = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_der(context, &signature, derSignature, derSignature.count) == 1 else { return false }
        var normalised = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_normalize(context, &normalised, &signature)
        var key = self.key
        return secp256k1_ecdsa_verify(context, &normalised, digest, &key) == 1
    }
}

/// Reads DER TLVs (definite lengths up to 4 bytes; nothing else in a public key needs more).
struct DERReader {
    private var bytes: ArraySlice<UInt8>
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    var atEnd: Bool { bytes.isEmpty }

    /// The contents of the next element if its tag is `tag` (nothing is consumed otherwise).
    mutating func read(tag: UInt8) throws -> [UInt8]? {
        guard bytes.first == tag else { return nil }
        return try readAny()
    }

    mutating func readAny() throws -> [UInt8] {
        guard bytes.count >= 2 else { throw PublicKeys.Failure.invalid("public_key_pem: truncated DER") }
        var index = bytes.startIndex + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), bytes.endIndex - index >= count else { throw PublicKeys.Failure.invalid("public_key_pem: bad DER length") }
            length = 0
            for _ in 0..<count { length = length << 8 | Int(bytes[index]); index += 1 }
        }
        guard length >= 0, bytes.endIndex - index >= length else { throw PublicKeys.Failure.invalid("public_key_pem: truncated DER") }
        let contents = Array(bytes[index..<(index + length)])
        bytes = bytes[(index + length)...]
        return contents
    }
}

extension PublicKeys {
    /// A JWK (RFC 7517/8037) as the PEM it names: OKP Ed25519, EC P-256 or secp256k1, RSA.
    static func pem(jwk: [String: String], alg: String) throws -> String {
        func field(_ name: String) throws -> Data {
            guard let text = jwk[name], text.utf8.count <= 1400, let data = Secrets.base64URLDecode(text), !data.isEmpty else {
                throw Failure.invalid("jwk: \(name) (base64url) is required")
            }
            return data
        }
        let der: Data
        switch (alg, jwk["kty"]) {
        case _ where jwk.count > 16:
            throw Failure.invalid("jwk: too many members")
        case ("Ed25519", "OKP"):
            guard jwk["crv"] == "Ed25519" else { throw Failure.invalid("jwk: crv must be Ed25519") }
            let x = try field("x")
            guard x.count == 32 else { throw Failure.invalid("jwk: x must be 32 bytes") }
            der = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + x
        case ("ES256", "EC"), ("ES256K", "EC"):
            let x = try field("x"), y = try field("y")
            guard x.count == 32, y.count == 32 else { throw Failure.invalid("jwk: x and y must be 32 bytes") }
            if alg == "ES256" {
                guard jwk["crv"] == "P-256" else { throw Failure.invalid("jwk: crv must be P-256") }
                do { return try P256.Signing.PublicKey(x963Representation: Data([0x04]) + x + y).pemRepresentation } catch {
                    throw Failure.invalid("jwk: not a point of P-256")
                }
            }
            guard jwk["crv"] == "secp256k1" else { throw Failure.invalid("jwk: crv must be secp256k1") }
            der = Data([0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A,
                        0x03, 0x42, 0x00, 0x04]) + x + y
        case ("RS256", "RSA"):
            do { return try _RSA.Signing.PublicKey(n: try field("n"), e: try field("e")).pemRepresentation } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure.invalid("jwk: not an RSA key")
            }
        default:
            throw Failure.invalid("jwk: kty \(jwk["kty"] ?? "none") does not fit alg \(alg)")
        }
        let lines = stride(from: 0, to: der.base64EncodedString().count, by: 64).map { offset -> String in
            let text = der.base64EncodedString()
            let start = text.index(text.startIndex, offsetBy: offset)
            return String(text[start..<(text.index(start, offsetBy: min(64, text.count - offset)))])
        }
        return "-----BEGIN PUBLIC KEY-----\n" + lines.joined(separator: "\n") + "\n-----END PUBLIC KEY-----\n"
    }
}
