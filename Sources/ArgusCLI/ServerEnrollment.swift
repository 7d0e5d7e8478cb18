import ArgusJobs
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `argus enroll --server URL`: the same photos through a running server's API, one request each
/// (subjects by external id, faces as raw image bodies). The key comes from ARGUS_API_KEY only.
struct ServerEnrollment {
    let server: String
    let items: [EnrollmentItem]
    let report: String?
    let largestFace: Bool

    func run() throws {
        guard let key = ProcessInfo.processInfo.environment["ARGUS_API_KEY"], !key.isEmpty else {
            printError("argus enroll: set ARGUS_API_KEY to a secret key of the server (never passed as a flag)")
            throw ExitCode.failure
        }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        var subjects: [String: String] = [:]
        let handle = report.flatMap { path -> FileHandle? in
            FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }
        var enrolled = 0, failed = 0
        for item in items {
            var line: [String: Any] = ["path": item.path, "subject": item.subject]
            do {
                let subjectID: String
                if let known = subjects[item.subject] {
                    subjectID = known
                } else {
                    let (status, body) = try request("POST", "\(base)/v1/subjects", key: key, json: ["external_id": item.subject])
                    if status == 201, let id = body["id"] as? String {
                        subjectID = id
                    } else {
                        let (_, found) = try request("GET", "\(base)/v1/subjects?external_id=\(item.subject.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? item.subject)", key: key)
                        guard let id = ((found["data"] as? [[String: Any]])?.first)?["id"] as? String else {
                            throw ValidationError("cannot create or find subject \(item.subject)")
                        }
                        subjectID = id
                    }
                    subjects[item.subject] = subjectID
                }
                let data = try Data(contentsOf: URL(fileURLWithPath: item.path))
                let type = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg"
                let (status, body) = try request("POST", "\(base)/v1/subjects/\(subjectID)/faces", key: key, body: data, contentType: type)
                if status == 200, body["already_enrolled"] as? Bool == true {
                    line["outcome"] = "skipped_already_enrolled"
                    line["reason"] = "a photo with the same bytes is already enrolled"
                    line["face_id"] = body["id"]
                } else if status == 201 {
                    enrolled += 1
                    line["outcome"] = "enrolled"
                    line["reason"] = "enrolled"
                    line["face_id"] = body["id"]
                } else {
                    failed += 1
                    let error = body["error"] as? [String: Any]
                    let code = error?["code"] as? String ?? "error"
                    line["outcome"] = code == "invalid_image" ? "decode_error" : code
                    line["reason"] = error?["message"] as? String ?? "HTTP \(status)"
                }
            } catch {
                failed += 1
                line["outcome"] = "decode_error"
                line["reason"] = "\(error)"
            }
            if let handle, let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) { handle.write(data + Data("\n".utf8)) }
        }
        print("\(items.count) photos: \(enrolled) enrolled, \(failed) refused")
    }

    func request(_ method: String, _ url: String, key: String, json: [String: Any]? = nil, body: Data? = nil,
                 contentType: String? = nil) throws -> (Int, [String: Any]) {
        guard let u = URL(string: url) else { throw ValidationError("bad URL \(url)") }
        var r = URLRequest(url: u)
        r.httpMethod = method
        r.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        if let json {
            r.httpBody = try JSONSerialization.data(withJSONObject: json)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            r.httpBody = body
            r.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, [String: Any]) = (0, [:])
        nonisolated(unsafe) var failure: (any Error)?
        URLSession.shared.dataTask(with: r) { data, response, error in
            if let error { failure = error }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            result = (status, (data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) ?? [:])
            semaphore.signal()
        }.resume()
        semaphore.wait()
        if let failure { throw failure }
        return result
    }
}
