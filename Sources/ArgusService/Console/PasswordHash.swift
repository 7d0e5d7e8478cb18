import ArgusStore
import Crypto
import CryptoExtras
import Foundation

/// Console passwords: scrypt (memory-hard, from swift-crypto's CryptoExtras) with N = 2^15, r = 8,
/// p = 1 (32 MiB and about 0.1 s per hash here), a 16-byte random salt and a 32-byte output,
/// stored as `scrypt$15$8$1$<salt>$<hash>` (base64url). Hashing runs on a thread of its own (an
/// executor with one thread and a queue of 8), never on the cooperative pool, an event loop or a
/// shared GCD thread: a flood of log-ins waits there or is refused with `busy`, and the API goes on.
/// Comparison is constant-time.
enum PasswordHash {
    static let logN = 15, r = 8, p = 1
    private static let executor = AnalysisExecutor(threads: 1, queueLimit: 8, deadline: .seconds(10))
    /// Too many hashes waiting: the caller answers 503 at once.
    struct Busy: Error {}

    static func make(_ password: String) async throws -> String {
        let salt = Secrets.randomBytes(16)
        let hash = try await derive(password, salt: salt, logN: logN, r: r, p: p)
        return "scrypt$\(logN)$\(r)$\(p)$\(Secrets.base64URL(salt))$\(Secrets.base64URL(hash))"
    }

    /// Whether `password` matches `stored`. Unknown accounts are checked against a dummy hash, so
    /// the time does not say whether an account exists.
    static func verify(_ password: String, against stored: String?) async throws -> Bool {
        let parts = (stored ?? dummy).split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              (10...20).contains(logN), (1...16).contains(r), (1...4).contains(p),
              let salt = Secrets.base64URLDecode(parts[4]), let expected = Secrets.base64URLDecode(parts[5]),
              let got = try await derive(password, salt: [UInt8](salt), logN: logN, r: r, p: p) as [UInt8]? else { return false }
        return Secrets.constantTimeEqual(Data(got), expected) && stored != nil
    }

    private static let dummy = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    private static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) async throws -> [UInt8] {
        do {
            return try await executor.run {
                let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logN, blockSize: r,
                                                   parallelism: p)
                return key.withUnsafeBytes { Array($0) }
            }
        } catch is AnalysisExecutor.Refusal {
            throw Busy()
        }
    }
}
