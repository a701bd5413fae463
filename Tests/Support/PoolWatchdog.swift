import Foundation

/// Watches Swift's cooperative pool from a thread of its own and reports when it stops taking
/// work.
///
/// The pool has one thread per core: on the 2-core CI machine two blocked (or long-computing)
/// tasks stop every other test, and the in-process servers' route handlers with them, so a
/// test far away fails by timing out on a page that never loads. A stall of
/// `NUMBAT_POOL_STALL` seconds (15 unless set) prints what each thread of the test process is
/// doing (gdb's backtraces where gdb is installed, else the kernel's wait channel of each
/// thread), once per stall and at most three times per process, so that the culprit is named
/// in the log of the run that met it.
public enum PoolWatchdog {
    /// Starts the watchdog once per process; later calls do nothing.
    public static func start() { _ = started }

    private static let started: Void = {
        let limit = ProcessInfo.processInfo.environment["NUMBAT_POOL_STALL"].flatMap(Double.init) ?? 15
        let thread = Thread { watch(limit: limit) }
        thread.name = "pool-watchdog"
        thread.start()
    }()

    private static func watch(limit: Double) {
        var reports = 0
        while true {
            let answered = LockedFlag()
            let sent = Date()
            Task.detached { answered.withLock { $0 = true } }
            var reported = false
            while !answered.withLock({ $0 }) {
                usleep(10_000)
                if !reported, Date().timeIntervalSince(sent) > limit {
                    reported = true
                    reports += 1
                    let detail = reports <= 3 ? threadReport() : "(no more reports in this process)"
                    print("PoolWatchdog: the cooperative pool has taken no work for \(Int(limit)) s; the process's threads:\n\(detail)")
                }
            }
            if reported {
                print(String(format: "PoolWatchdog: the cooperative pool took work again after %.1f s", Date().timeIntervalSince(sent)))
            }
            sleep(1)
        }
    }

    /// Every thread's backtrace by gdb, or its name and kernel wait channel without gdb.
    ///
    /// gdb writes to a file, never to a pipe of this process: while attached it stops every
    /// thread here, the pipe's reader too, and a backtrace longer than the pipe's 64 KB then
    /// blocked gdb for ever with the whole test process stopped (a run hung 18 minutes so).
    /// It is also killed after two minutes whatever it is doing, and the process continued.
    private static func threadReport() -> String {
        let gdb = "/usr/bin/gdb"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-pool-stall-\(getpid())-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = #"timeout -s KILL 120 "$1" -p "$2" -batch -nx -ex "set pagination off" -ex "thread apply all bt 30" > "$3" 2>&1; kill -CONT "$2""#
        if FileManager.default.isExecutableFile(atPath: gdb),
           (try? ChildProcess.runBlocking("/bin/sh", ["-c", script, "sh", gdb, String(getpid()), file.path])) != nil,
           let output = try? String(contentsOf: file, encoding: .utf8) {
            let frames = output.split(separator: "\n").filter { $0.hasPrefix("Thread ") || $0.hasPrefix("#") }
            if !frames.isEmpty { return frames.joined(separator: "\n") }
        }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.sorted().map { task in
            let read = { (file: String) in
                ((try? String(contentsOfFile: "/proc/self/task/\(task)/\(file)", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return "\(task) \(read("comm")) waits in \(read("wchan"))"
        }.joined(separator: "\n")
    }
}
