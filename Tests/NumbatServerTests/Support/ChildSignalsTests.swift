import Foundation
import NumbatCore
import NumbatTestSupport
import Testing

/// The test process's threads block SIGTERM and SIGCHLD; the peers the tests start must not
/// inherit that (`Subprocess` resets the mask and every signal's handling), or a peer's SIGTERM
/// handling never runs. Nor may they inherit the test process's many descriptors.
@Suite("children of the tests")
struct ChildSignalsTests {
    @Test("a child starts with no signal blocked, and with SIGTERM not ignored even when the tests ignore it")
    func nothingBlocked() async throws {
        // As an in-process server's service lifecycle does (harmless to leave: it does the same).
        signal(SIGTERM, SIG_IGN)
        let status = try await ChildProcess.run("/bin/sh", ["-c", "grep -E 'SigBlk|SigIgn' /proc/self/status"])
        #expect(status.standardOutput.contains("SigBlk:\t0000000000000000"), "\(status.standardOutput)")
        let ignored = status.standardOutput.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        let term = UInt64(1) << (UInt64(SIGTERM) - 1)
        #expect(ignored.map { $0 & term == 0 } == true, "\(status.standardOutput)")
    }

    @Test("a background program's SIGTERM trap runs when it is stopped (it is not left to the SIGKILL)")
    func termTrapRuns() async throws {
        signal(SIGTERM, SIG_IGN)
        let script = #"trap 'echo stopped by TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done"#
        let process = try BackgroundProcess("/bin/sh", ["-c", script])
        _ = try await process.line(startingWith: "ready", timeout: 30)
        let status = await process.stop(grace: 60)
        #expect(process.output.contains("stopped by TERM"), "\(process.output)")
        #expect(status == 0, "exit status \(String(describing: status)) (137: left to the SIGKILL)")
    }

    @Test("children started from many threads at once, while the parent holds 1,500 descriptors and opens and closes more, get only their standard streams")
    func onlyStandardStreams() async throws {
        // Foundation's Process crashed here (memcpy inside run(), with over 1,350 descriptors
        // open); Subprocess closes everything from 3 up in the child instead of listing them.
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<1_500 {
            let fd = open("/dev/null", O_RDONLY)
            try #require(fd >= 0, "cannot open /dev/null: errno \(errno)")
            held.append(fd)
        }
        let churning = ManagedAtomicFlag()
        let churn = Thread {
            while !churning.isSet {
                let fd = open("/dev/null", O_RDONLY)
                if fd >= 0 { close(fd) }
            }
        }
        churn.start()
        defer { churning.set() }
        // Each child is `ls` listing its own descriptors: 0, 1 and 2, and 3 (the directory it reads).
        let listings = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var seen: [String] = []
                    for _ in 0..<5 { seen.append(try await ChildProcess.run("/bin/ls", ["/proc/self/fd"]).standardOutput) }
                    return seen
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(listings.count == 80)
        for listing in listings {
            let fds = Set(listing.split(whereSeparator: \.isWhitespace).compactMap { Int($0) })
            #expect(fds == [0, 1, 2, 3], "the child has more than its standard streams (and ls's directory): \(listing)")
        }
    }
}

extension ChildSignalsTests {
    @Test("a child nobody waits for is reaped when it exits (no zombie), and its status is kept")
    func reapedUnasked() async throws {
        let child = Subprocess()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "exit 3"]
        child.standardOutput = nil
        child.standardError = nil
        try child.run()
        let pid = child.processIdentifier
        // Never asked: only the reaper can make /proc/PID go (a zombie keeps it).
        let gone = try await eventually(within: .seconds(30)) { !FileManager.default.fileExists(atPath: "/proc/\(pid)") }
        #expect(gone, "the exited child stays a zombie: \((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "")")
        #expect(!child.isRunning && child.terminationStatus == 3 && child.terminationReason == .exit)
    }
}

/// A flag set once, read from another thread.
private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
