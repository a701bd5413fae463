import Foundation
import NumbatTestSupport
import Testing

/// The test process's threads block SIGTERM and SIGCHLD; the peers the tests start must not
/// inherit that (`Process.runUnblocked`), or a peer's SIGTERM handling never runs.
@Suite("children of the tests")
struct ChildSignalsTests {
    @Test("a child starts with no signal blocked")
    func nothingBlocked() async throws {
        let status = try await ChildProcess.run("/bin/sh", ["-c", "grep SigBlk /proc/self/status"])
        #expect(status.standardOutput.contains("SigBlk:\t0000000000000000"), "\(status.standardOutput)")
    }

    @Test("a background program's SIGTERM trap runs when it is stopped (it is not left to the SIGKILL)")
    func termTrapRuns() async throws {
        let script = #"trap 'echo stopped by TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done"#
        let process = try BackgroundProcess("/bin/sh", ["-c", script])
        _ = try await process.line(startingWith: "ready", timeout: 30)
        await process.stop(grace: 60)
        #expect(process.output.contains("stopped by TERM"), "\(process.output)")
        #expect(process.process.terminationReason == .exit && process.process.terminationStatus == 0)
    }
}
