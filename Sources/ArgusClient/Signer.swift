public import Crypto
public import Foundation

/// Who signs user actions: a registered signer's id and its private key (or a KMS behind `sign`).
public struct Signer: Sendable {
    public let id: String
    private let signature: @Sendable (Data) throws -> Data

    /// A signer whose key lives elsewhere (a KMS, a device): `sign` returns the algorithm's usual
    /// encoding (Ed25519 raw 64 bytes, ECDSA DER, RSA PKCS#1 v1.5).
    public init(id: String, sign: @escaping @Sendable (Data) throws -> Data) {
        self.id = id
        signature = sign
    }

    public func sign(_ message: Data) throws -> Data { try signature(message) }

    public static func ed25519(id: String, key: Curve25519.Signing.PrivateKey) -> Signer {
        Signer(id: id) { try key.signature(for: $0) }
    }

    public static func p256(id: String, key: P256.Signing.PrivateKey) -> Signer {
        Signer(id: id) { try key.signature(for: $0).derRepresentation }
    }
}

enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

enum SHA256Hex {
    static func digest(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}
