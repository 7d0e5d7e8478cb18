public import Foundation

/// One photo to enrol and the subject it belongs to.
public struct EnrollmentItem: Sendable, Equatable {
    public let path: String
    public let subject: String
}

/// Where the photos come from: `DIR/<subject>/*.{jpg,jpeg,png}`, or a CSV manifest of `path,subject`.
public enum EnrollmentInput {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case badManifest(line: Int, String)
        public var description: String {
            switch self {
            case .unreadable(let why): return why
            case .badManifest(let line, let why): return "manifest line \(line): \(why)"
            }
        }
    }

    /// Subject folders in name order, photos in name order within each: a stable input order.
    public static func scan(directory: String) throws -> [EnrollmentItem] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure.unreadable("\(directory) is not a directory")
        }
        var items: [EnrollmentItem] = []
        for subject in try fm.contentsOfDirectory(atPath: directory).sorted() where !subject.hasPrefix(".") {
            let folder = (directory as NSString).appendingPathComponent(subject)
            guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for file in try fm.contentsOfDirectory(atPath: folder).sorted() where extensions.contains((file as NSString).pathExtension.lowercased()) {
                items.append(EnrollmentItem(path: (folder as NSString).appendingPathComponent(file), subject: subject))
            }
        }
        return items
    }

    /// `path,subject` lines (a header line `path,subject` is skipped; paths relative to `base`).
    public static func manifest(_ file: String, base: String?) throws -> [EnrollmentItem] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Failure.unreadable("cannot read \(file)") }
        let root = base ?? (file as NSString).deletingLastPathComponent
        var items: [EnrollmentItem] = []
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
            if n == 0 && fields.first?.lowercased() == "path" { continue }
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else { throw Failure.badManifest(line: n + 1, "expected path,subject") }
            let path = fields[0].hasPrefix("/") ? fields[0] : (root as NSString).appendingPathComponent(fields[0])
            items.append(EnrollmentItem(path: path, subject: fields[1]))
        }
        return items
    }
}
