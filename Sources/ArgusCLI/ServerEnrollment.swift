import ArgusJobs
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `argus enroll --server URL`: the same photos through a running server's API, with the same
/// options and the same report as `--data-dir` (the server runs the same enrolment path).
/// Subjects are found or created by external id first; then `jobs` uploads are in flight at once.
/// The key comes from ARGUS_API_KEY only.
struct ServerEnrollment {
    let server: String
    let items: [EnrollmentItem]
    let report: String?
    let largestFace: Bool
    let dedup: Bool
    let minFaceSize: Int?
    let jobs: Int
    let progress: Bool

    func run(stop: StopFlag) throws {
        guard let key = ProcessInfo.processInfo.environment["ARGUS_API_KEY"], !key.isEmpty else {
            printError("argus enroll: set ARGUS_API_KEY to a secret key of the server (never passed as a flag)")
            throw ExitCode.failure
        }
        let client = APIClient(base: server.hasSuffix("/") ? String(server.dropLast()) : server, key: key)
        let reportWriter: ReportWriter
        do { reportWriter = try ReportWriter(path: report) } catch {
            printError("argus enroll: \(error)")
            throw ExitCode.failure
        }
        // Subjects first, one request each, so parallel uploads never race to create one.
        var subjectIDs: [String: String] = [:]
        for name in Set(items.map(\.subject)).sorted() {
            do { subjectIDs[name] = try client.subject(externalID: name) } catch {
                printError("argus enroll: subject \(name): \(error)")
                throw ExitCode.failure
            }
        }
        let names = Dictionary(subjectIDs.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        var options = [URLQueryItem]()
        if largestFace { options.append(.init(name: "largest_face", value: "true")) }
        if dedup { options.append(.init(name: "dedup", value: "true")) }
        if let minFaceSize { options.append(.init(name: "min_face_size", value: String(minFaceSize))) }
        let query = options, subjects = subjectIDs

        let display = ProgressDisplay(total: items.count)
        let results = OrderedResults(count: items.count)
        let next = NextIndex()
        let group = DispatchGroup()
        for _ in 0..<jobs {
            group.enter()
            Thread.detachNewThread {
                while !stop.isSet, let i = next.take(below: items.count) {
                    let item = items[i]
                    results.put(i, upload(item, subjectID: subjects[item.subject] ?? "", names: names, query: query, client: client))
                }
                group.leave()
            }
        }
        var counts: [EnrollmentOutcome.Kind: Int] = [:]
        var done = 0, failures = 0
        for i in items.indices {
            guard let outcome = results.wait(i, giveUpWhen: { stop.isSet && next.taken <= i }) else { break }
            reportWriter.write(outcome)
            counts[outcome.kind, default: 0] += 1
            done += 1
            if ![.enrolled, .skippedAlreadyEnrolled, .duplicateCandidate].contains(outcome.kind) { failures += 1 }
            if progress { display.update(done: done, failures: failures, processed: done) }
        }
        group.wait()
        if progress { display.update(done: done, failures: failures, processed: done, final: true) }
        let summary = EnrollmentOutcome.Kind.allCases.compactMap { k in counts[k].map { "\(k.rawValue) \($0)" } }.joined(separator: ", ")
        print("\(done) of \(items.count) photos through \(server): \(summary)")
        if stop.isSet && done < items.count {
            print("interrupted: run the same command again to continue")
            throw ExitCode(130)
        }
    }

    func upload(_ item: EnrollmentItem, subjectID: String, names: [String: String], query: [URLQueryItem], client: APIClient) -> EnrollmentOutcome {
        var outcome = EnrollmentOutcome(path: item.path, subject: item.subject, kind: .decodeError, reason: "")
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: item.path))
            let type = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg"
            let (status, body) = try client.send("POST", "/v1/subjects/\(subjectID)/faces", query: query, body: data, contentType: type)
            outcome.faceID = body["id"] as? String
            outcome.box = body["box"] as? [Int]
            if status == 200, body["already_enrolled"] as? Bool == true {
                outcome.kind = .skippedAlreadyEnrolled
                outcome.reason = "this photo is already enrolled on this subject"
            } else if status == 201 {
                let duplicates = (body["duplicates"] as? [[String: Any]]) ?? []
                outcome.candidates = duplicates.compactMap { d in
                    guard let id = d["subject_id"] as? String, let score = d["score"] as? Double else { return nil }
                    return (subject: names[id] ?? id, score: Float(score))
                }
                outcome.kind = outcome.candidates.isEmpty ? .enrolled : .duplicateCandidate
                outcome.reason = outcome.candidates.isEmpty ? "enrolled"
                    : "enrolled; matches \(outcome.candidates.count) other subject(s) above the 1:N threshold"
            } else {
                let error = body["error"] as? [String: Any]
                let code = error?["code"] as? String ?? "error"
                outcome.kind = EnrollmentOutcome.Kind(rawValue: code) ?? .decodeError
                outcome.reason = error?["message"] as? String ?? "HTTP \(status)"
            }
        } catch {
            outcome.reason = "\(error)"
        }
        return outcome
    }
}

/// The API over URLSession, blocking (called from worker threads, never from async code).
struct APIClient: Sendable {
    let base: String
    let key: String

    /// The subject with this external id, created when there is none.
    func subject(externalID: String) throws -> String {
        let (status, body) = try send("POST", "/v1/subjects", json: ["external_id": externalID])
        if status == 201, let id = body["id"] as? String { return id }
        let (_, found) = try send("GET", "/v1/subjects", query: [URLQueryItem(name: "external_id", value: externalID)])
        guard let id = ((found["data"] as? [[String: Any]])?.first)?["id"] as? String else {
            throw ValidationError("cannot create or find it (HTTP \(status): \(body))")
        }
        return id
    }

    func send(_ method: String, _ path: String, query: [URLQueryItem] = [], json: [String: String]? = nil, body: Data? = nil,
              contentType: String? = nil) throws -> (Int, [String: Any]) {
        guard var components = URLComponents(string: base + path) else { throw ValidationError("bad URL \(base + path)") }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { throw ValidationError("bad URL \(base + path)") }
        var r = URLRequest(url: url)
        r.httpMethod = method
        r.timeoutInterval = 120
        r.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        if let json {
            r.httpBody = try JSONSerialization.data(withJSONObject: json)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            r.httpBody = body
            r.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        // A server that sheds load (503 `overloaded`, 429 `rate_limited`) is asked again after the
        // Retry-After it gave (or a doubling back-off with jitter), up to `Self.retries` times; the
        // request is idempotent on the server's side (a photo already enrolled answers 200).
        var attempt = 0
        while true {
            let (status, body, retryAfter) = try Self.perform(r)
            guard status == 503 || status == 429, attempt < Self.retries else { return (status, body) }
            attempt += 1
            let backoff = min(30.0, 0.25 * Double(1 << min(attempt, 7)))
            let wait = max(retryAfter ?? 0, backoff) * Double.random(in: 0.8...1.2)
            Thread.sleep(forTimeInterval: wait)
        }
    }

    /// How many times a shed request is sent again before its outcome is the 503 itself.
    static let retries = 12

    private static func perform(_ r: URLRequest) throws -> (Int, [String: Any], Double?) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, [String: Any], Double?) = (0, [:], nil)
        nonisolated(unsafe) var failure: (any Error)?
        URLSession.shared.dataTask(with: r) { data, response, error in
            if let error { failure = error }
            let http = response as? HTTPURLResponse
            let retryAfter = (http?.value(forHTTPHeaderField: "Retry-After")).flatMap(Double.init)
            result = (http?.statusCode ?? 0, (data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) ?? [:],
                      retryAfter.map { min(max($0, 0), 60) })
            semaphore.signal()
        }.resume()
        semaphore.wait()
        if let failure { throw failure }
        return result
    }
}

/// The next input index to upload, handed out once each.
final class NextIndex: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var next = 0
    var taken: Int { lock.withLock { next } }
    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard next < limit else { return nil }
            defer { next += 1 }
            return next
        }
    }
}

/// Outcomes by input index, so the report keeps the input's order.
final class OrderedResults: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    private let condition = NSCondition()
    private var results: [Int: EnrollmentOutcome] = [:]
    init(count: Int) { results.reserveCapacity(min(count, 1024)) }

    func put(_ i: Int, _ outcome: EnrollmentOutcome) {
        condition.lock()
        results[i] = outcome
        condition.broadcast()
        condition.unlock()
    }

    /// Outcome `i`, or nil once `giveUp` says it will never come.
    func wait(_ i: Int, giveUpWhen giveUp: () -> Bool) -> EnrollmentOutcome? {
        condition.lock()
        defer { condition.unlock() }
        while results[i] == nil {
            if giveUp() { return nil }
            _ = condition.wait(until: Date().addingTimeInterval(0.2))
        }
        return results.removeValue(forKey: i)
    }
}
