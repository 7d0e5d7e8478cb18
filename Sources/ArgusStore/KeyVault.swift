import Crypto
public import Foundation

/// Encryption at rest. A master key (from `ARGUS_MASTER_KEY`, base64 of 32 bytes, or a 0600 file
/// `master.key` created in the data directory on first start) wraps one random data key per
/// tenant; templates are sealed with AES-GCM under the tenant's key, bound to the face id.
struct KeyVault: Sendable {
    let master: SymmetricKey

    enum Failure: Error, CustomStringConvertible {
        case badMasterKey(String)
        case io(String)
        var description: String {
            switch self {
            case .badMasterKey(let why): return "master key: \(why)"
            case .io(let why): return why
            }
        }
    }

    static func open(dataDirectory: String, environment: [String: String]) throws -> KeyVault {
        if let encoded = environment["ARGUS_MASTER_KEY"] {
            guard let bytes = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
                throw Failure.badMasterKey("ARGUS_MASTER_KEY must be base64 of 32 bytes")
            }
            return KeyVault(master: SymmetricKey(data: bytes))
        }
        let path = (dataDirectory as NSString).appendingPathComponent("master.key")
        if let existing = FileManager.default.contents(atPath: path) {
            try PrivateFiles.restrict(path)
            guard let bytes = Data(base64Encoded: String(decoding: existing, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                  bytes.count == 32 else { throw Failure.badMasterKey("\(path) is not base64 of 32 bytes") }
            return KeyVault(master: SymmetricKey(data: bytes))
        }
        // Callers hold the store's initialisation lock, so only one process ever creates the key;
        // the file is 0600 from its first byte and appears whole (see `PrivateFiles.createSecret`).
        let key = SymmetricKey(size: .bits256)
        let encoded = key.withUnsafeBytes { Data($0).base64EncodedString() }
        try PrivateFiles.createSecret(path, contents: Data((encoded + "\n").utf8))
        return KeyVault(master: key)
    }

    /// The AAD of a tenant's wrapped data key names its tenant, so rows cannot be swapped.
    static func dataKeyContext(tenant: String) -> String { "tenant-data-key:\(tenant)" }
    /// The AAD of a wrapped signing key names its kid.
    static func signingKeyContext(kid: String) -> String { "signing-key:\(kid)" }
    /// What stores written before owner-bound AADs used (read once by the migration).
    static let legacyDataKeyContext = "tenant-data-key"
    static let legacySigningKeyContext = "signing-key"

    func newWrappedDataKey(tenant: String) throws -> Data {
        let key = SymmetricKey(size: .bits256)
        return try wrap(key.withUnsafeBytes { Data($0) }, context: Self.dataKeyContext(tenant: tenant))
    }

    func unwrapDataKey(_ wrapped: Data, tenant: String) throws -> SymmetricKey {
        SymmetricKey(data: try unwrap(wrapped, context: Self.dataKeyContext(tenant: tenant)))
    }

    func wrap(_ plaintext: Data, context: String) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: master, authenticating: Data(context.utf8)).combined else {
            throw Failure.io("AES-GCM produced no combined form")
        }
        return combined
    }

    func unwrap(_ sealed: Data, context: String) throws -> Data {
        try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: master, authenticating: Data(context.utf8))
    }

    static func sealTemplate(_ template: [Float], key: SymmetricKey, faceID: String) throws -> Data {
        let bytes = template.withUnsafeBytes { Data($0) }
        guard let combined = try AES.GCM.seal(bytes, using: key, authenticating: Data(faceID.utf8)).combined else {
            throw Failure.io("AES-GCM produced no combined form")
        }
        return combined
    }

    /// Opens a template onto the end of `rows`. - Returns: how many values it had.
    static func openTemplate(_ sealed: Data, key: SymmetricKey, faceID: String, appendingTo rows: inout [Float]) throws -> Int {
        let bytes = try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(faceID.utf8))
        return bytes.withUnsafeBytes { raw in
            let values = raw.bindMemory(to: Float.self)
            rows.append(contentsOf: values)
            return values.count
        }
    }

    static func openTemplate(_ sealed: Data, key: SymmetricKey, faceID: String) throws -> [Float] {
        var template: [Float] = []
        _ = try openTemplate(sealed, key: key, faceID: faceID, appendingTo: &template)
        return template
    }
}

/// A Sendable box so per-tenant keys can sit in a dictionary during start-up.
struct SymmetricKeyBox: @unchecked Sendable {
    // @unchecked: SymmetricKey is an immutable value.
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
}
