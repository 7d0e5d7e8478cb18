import Foundation
import Glibc
import Testing
@testable import ArgusService

/// The analysis threads run niced below everything else, and only they do: the tasks they wake
/// continue, and any thread spawned for them starts, at the process's own priority.
@Suite("Analysis executor")
struct AnalysisExecutorTests {
    /// The nice value of thread `tid` of this process (field 19 of its stat line), and its name.
    static func thread(_ tid: String) -> (nice: Int, name: String)? {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
        let name = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? ""
        return (nice, name.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The calling thread's id, from /proc/thread-self (a link to "PID/task/TID").
    static var callingThreadID: Int32 {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
              let last = link.split(separator: "/").last else { return -1 }
        return Int32(last) ?? -1
    }

    static var callingThreadNice: Int { Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) }

    @Test("jobs run niced; the tasks they wake, and the threads spawned for them, do not", .timeLimit(.minutes(5)))
    func nicedAnalysisOnly() async throws {
        // The process's own priority: its main thread's.
        let baseline = try #require(Self.thread(String(getpid()))).nice
        let executor = AnalysisExecutor(threads: 2, queueLimit: 10_000, deadline: .seconds(600))

        let inside = try await executor.run { Self.callingThreadNice }
        #expect(AnalysisExecutor.niceness > 0)
        // A leaked value is exactly the analysis threads' own. (libdispatch gives its threads nice
        // values of their own by quality of service, 10 for background work for instance, so other
        // values are not leaks.)
        let leaked = min(19, baseline + Int(AnalysisExecutor.niceness))
        #expect(inside == leaked)

        // A job long enough for idle pool threads to end (libdispatch retires them after 5 s):
        // the task it wakes then needs a new thread, spawned by whichever thread resumed it.
        let afterIdle = try await executor.run { sleep(6); return 0 }
        #expect(afterIdle == 0)
        let nice = Self.callingThreadNice
        #expect(nice != leaked, "woken after an idle spell on a thread at nice \(nice)")

        // Many tasks at once, each blocking its thread a little after it is woken, so that the
        // global executor has reason to start threads while analysis threads hand results over.
        let results = try await withThrowingTaskGroup(of: (analysisThread: Int32, wokenNice: Int).self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let tid = try await executor.run { usleep(200); return Self.callingThreadID }
                    let nice = Self.callingThreadNice
                    usleep(1000)
                    return (tid, nice)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 200)
        let woken = results.map { $0.wokenNice }
        #expect(woken.filter { $0 == leaked }.isEmpty, "tasks woken on niced threads: \(woken.filter { $0 == leaked }.count) of 200")

        // The executor's threads carry their name and nice value; no other thread of the process
        // has that value.
        let analysis = Set(results.map { $0.analysisThread })
        #expect(analysis.count == 2)
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { tid in
            Self.thread(tid).map { (tid: Int32(tid) ?? -1, nice: $0.nice, name: $0.name) } as (tid: Int32, nice: Int, name: String)?
        }
        let mine = threads.filter { analysis.contains($0.tid) }
        #expect(mine.count == 2)
        #expect(mine.filter { $0.name != "argus-analysis" || $0.nice != leaked }.isEmpty, "\(mine)")
        #expect(threads.contains { $0.name == "argus-resume" && $0.nice == baseline })
        // (The snapshot writer runs niced on purpose; libdispatch's background threads run at nice 10
        // by their quality of service, and a leak would show on the default-QoS pool threads.)
        let niced = threads.filter { $0.name != "argus-analysis" && $0.name != "argus-snapshot" && !$0.name.contains("background") && $0.nice == leaked }
        #expect(niced.isEmpty, "niced threads: \(niced)")
    }
}
