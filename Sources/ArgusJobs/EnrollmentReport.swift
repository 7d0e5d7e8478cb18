public import Foundation

/// What happened to one photo; one JSON line of the report.
public struct EnrollmentOutcome: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case enrolled
        case skippedAlreadyEnrolled = "skipped_already_enrolled"
        case noFace = "no_face"
        case multipleFaces = "multiple_faces"
        case lowQuality = "low_quality"
        case decodeError = "decode_error"
        case duplicateCandidate = "duplicate_candidate"
    }

    public var path: String
    public var subject: String
    public var kind: Kind
    public var reason: String
    public var sha256: String?
    public var faceID: String?
    public var box: [Int]?
    public var candidates: [(subject: String, score: Float)] = []

    public init(path: String, subject: String, kind: Kind, reason: String) {
        (self.path, self.subject, self.kind, self.reason) = (path, subject, kind, reason)
    }

    var json: [String: Any] {
        var out: [String: Any] = ["path": path, "subject": subject, "outcome": kind.rawValue, "reason": reason]
        if let sha256 { out["sha256"] = sha256 }
        if let faceID { out["face_id"] = faceID }
        if let box { out["box"] = box }
        if !candidates.isEmpty { out["candidates"] = candidates.map { ["subject": $0.subject, "score": Double($0.score)] } }
        return out
    }
}

/// The JSON Lines report, flushed line by line so a killed run leaves every finished line.
public final class ReportWriter {
    private let handle: FileHandle?

    public init(path: String?) throws {
        guard let path else { handle = nil; return }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw EnrollmentInput.Failure.unreadable("cannot create the report \(path)")
        }
        handle = FileHandle(forWritingAtPath: path)
    }

    public func write(_ outcome: EnrollmentOutcome) {
        guard let handle, let data = try? JSONSerialization.data(withJSONObject: outcome.json, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        handle.write(data + Data("\n".utf8))
    }

    deinit { try? handle?.close() }
}
