import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A child program started with `posix_spawn`, in place of Foundation's `Process` (whose
/// members it keeps, so a call site changes only its type).
///
/// Why not `Process`: on Linux its `run()` emulates close-on-exec by adding one close action per
/// descriptor up to the highest one open, found by listing `/proc/self/fd` in the parent while
/// other threads open and close theirs. A process with over a thousand descriptors that spawns
/// while others churn (the test process beside its peers; a server holding thousands of node
/// connections that starts its Libcloud bridge) crashed in `memcpy` inside it, the registers
/// holding descriptor numbers. Here the child closes everything from 3 up itself
/// (`closefrom`, run by glibc in the child after the `dup2`s), and nothing is listed.
///
/// The child also starts with no signal blocked and every signal at its default: a child
/// inherits the spawning thread's mask and the parent's ignored signals, and Numbat (or the
/// tests' in-process servers) block SIGTERM and SIGCHLD on their threads and ignore SIGPIPE and
/// SIGTERM, which a shell script's `trap` then could not catch. Like `Process`, it gets a process
/// group of its own. It is reaped here as soon as it exits, never by anyone else.
public final class Subprocess: @unchecked Sendable {
    public enum TerminationReason: Sendable {
        case exit
        case uncaughtSignal
    }

    public var executableURL: URL?
    public var arguments: [String]?
    /// The child's whole environment; nil: this process's.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `Pipe` (the child gets the matching end, the parent's copy of it is closed once the
    /// child runs), a `FileHandle` (`FileHandle.nullDevice` is /dev/null), or nil for /dev/null.
    /// Unset: this process's own.
    public var standardInput: Any? = FileHandle.standardInput
    public var standardOutput: Any? = FileHandle.standardOutput
    public var standardError: Any? = FileHandle.standardError
    /// Whether the child leads a process group of its own (as `Process` does), so a terminal's
    /// Ctrl-C reaches only the tests, which then stop their children in order.
    public var ownProcessGroup = true

    private let state = NIOLockedValueBox(State())

    private struct State {
        var pid: pid_t = 0
        /// The raw `waitpid` status once reaped.
        var waitStatus: Int32?
    }

    public init() {}

    public var processIdentifier: Int32 { state.withLockedValue { $0.pid } }

    /// Records the spawned child (`run`), and reaps it as soon as it exits, whoever asks after
    /// it (a bridge nobody waits for is no zombie): a thread of its own waits for the exit
    /// without reaping (`WNOWAIT`), then reaps it here, so only `reap` ever reaps.
    func started(_ pid: pid_t) {
        state.withLockedValue { $0.pid = pid }
        let reaper = Thread { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
            _ = reap()
        }
        reaper.name = "subprocess-reaper"
        reaper.start()
    }

    /// Whether it still runs; the first call after it exited reaps it.
    public var isRunning: Bool { reap() == nil && processIdentifier > 0 }

    /// The exit status, or the signal's number when a signal killed it (as `Process` answers).
    public var terminationStatus: Int32 {
        guard let status = reap() else { preconditionFailure("\(executableURL?.path ?? "?") is still running") }
        return Self.exited(status) ? Self.exitCode(status) : Self.signalNumber(status)
    }

    public var terminationReason: TerminationReason {
        guard let status = reap() else { preconditionFailure("\(executableURL?.path ?? "?") is still running") }
        return Self.exited(status) ? .exit : .uncaughtSignal
    }

    /// The exit status as a shell reports it: 128 + the signal's number when killed.
    public var shellStatus: Int32? {
        reap().map { Self.exited($0) ? Self.exitCode($0) : 128 + Self.signalNumber($0) }
    }

    public func terminate() { signal(SIGTERM) }
    public func interrupt() { signal(SIGINT) }

    /// Sends `signal` unless it was reaped already (its pid may then belong to another).
    public func signal(_ signal: Int32) {
        state.withLockedValue { state in
            if state.pid > 0, state.waitStatus == nil { kill(state.pid, signal) }
        }
    }

    /// Blocks until it exited (polling, so no second waiter can race this one for the status).
    public func waitUntilExit() {
        _ = waitForExit(timeout: nil)
    }

    /// Blocks until it exited, or for at most `timeout` seconds; its shell status (nil: still
    /// running at the deadline).
    public func waitForExit(timeout: Double?) -> Int32? {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if let status = shellStatus { return status }
            if let deadline, Date() >= deadline { return nil }
            usleep(2000)
        }
    }

    /// Reaps it if it exited; its raw status (nil: running, or never started).
    private func reap() -> Int32? {
        state.withLockedValue { state in
            if let status = state.waitStatus { return status }
            guard state.pid > 0 else { return nil }
            var status: Int32 = 0
            let result = waitpid(state.pid, &status, WNOHANG)
            if result == state.pid {
                state.waitStatus = status
            } else if result == -1, errno == ECHILD {
                // Reaped by no one here: SIGCHLD ignored makes the kernel reap it. Its status
                // is lost; report it as exit 255.
                state.waitStatus = 255 << 8
            }
            return state.waitStatus
        }
    }

    private static func exited(_ status: Int32) -> Bool { status & 0x7F == 0 }
    private static func exitCode(_ status: Int32) -> Int32 { (status >> 8) & 0xFF }
    private static func signalNumber(_ status: Int32) -> Int32 { status & 0x7F }
}

/// A program that cannot be started.
public struct SubprocessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
