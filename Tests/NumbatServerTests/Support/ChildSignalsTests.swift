import Foundation
import NumbatTestSupport
import Testing

/// The test process's threads block SIGTERM and SIGCHLD; the peers the tests start must not
/// inherit that (`Process.runUnblocked`), or a peer's SIGTERM handling never runs.
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
}
