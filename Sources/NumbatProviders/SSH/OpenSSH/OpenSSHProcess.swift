import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NumbatCore

/// One run of `ssh` as a child process. It gets a session of its own (`setsid`), so a deadline
/// kills its whole process group: `ssh` and whatever it started (the `ssh -W` of a ProxyJump),
/// and no terminal it could prompt on. Its output is read on threads of its own up to a limit
/// (the rest counted as truncated) and its input written on another, off Swift's cooperative
/// pool. Its pid stays unreaped until both outputs ended, so a kill can never reach a reused pid.
///
/// A multiplexed `ssh` hands its standard input and outputs to the master connection, which
/// keeps them until the remote command ends, and on losing the client ends the command's input:
/// so at the deadline `onTimeout` (the caller's kill on the host) runs first, then the local
/// kill, and the output ends of this side are shut down so that the run ends at once.
struct OpenSSHProcess {
    struct Outcome: Sendable {
        /// The exit status, nil when a signal killed it.
        var status: Int32?
        var signal: Int32?
        var standardOutput: [UInt8] = []
        var standardError: [UInt8] = []
        var truncated = false
        /// Killed at its deadline.
        var timedOut = false
    }

    /// Where its output goes: pipes read up to the limit, or one file for both streams (for
    /// a master that lives on in the background: its ProxyJump child keeps the descriptors it
    /// inherited, and a pipe would not end while it lives).
    enum Output: Sendable {
        case pipes
        case file(String)
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String], input: SSHInput?,
                    output: Output = .pipes, limit: Int = SSHCommandResult.outputLimit, timeout: Duration,
                    onTimeout: (@Sendable () async -> Void)? = nil) async throws -> Outcome {
        // A write to an `ssh` that died must fail with EPIPE, not kill Numbat.
        signal(SIGPIPE, SIG_IGN)
        let child = try spawn(executable, arguments, environment: environment, hasInput: input != nil, output: output)
        let run = RunState(pid: child.pid, limit: limit, input: child.input, descriptors: [child.input, child.output, child.errors].compactMap { $0 })
        let readers = DispatchGroup()
        if let output = child.output { run.read(output, into: .output, group: readers) }
        if let errors = child.errors { run.read(errors, into: .error, group: readers) }
        if let stdin = child.input, let input {
            Thread {
                Self.write(input, to: stdin)
                run.close(stdin)
            }.start()
        }
        return await withTaskCancellationHandler {
            let deadline = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                run.expire()
                await onTimeout?()
                run.kill(timedOut: true)
            }
            defer { deadline.cancel() }
            return await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: run.waitForExit(readers: readers)) }.start()
            }
        } onCancel: {
            run.kill(timedOut: false)
        }
    }

    private struct Child {
        var pid: pid_t
        var input: Int32?
        var output: Int32?
        var errors: Int32?
    }

    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String], hasInput: Bool,
                              output: Output) throws -> Child {
        var opened: [Int32] = []
        /// A one-way channel, close-on-exec from its creation: a child another thread spawns
        /// meanwhile must not inherit it (it would hold back its end of file). A socket pair,
        /// because Swift's Glibc module has no `pipe2`; each end used one way only.
        func pipeEnds() throws -> (read: Int32, write: Int32) {
            var ends: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
                throw SSHError("cannot make a socket pair for ssh: \(String(cString: strerror(errno)))")
            }
            opened += ends
            shutdown(ends[0], Int32(SHUT_WR))
            shutdown(ends[1], Int32(SHUT_RD))
            return (ends[0], ends[1])
        }
        defer { for fd in opened { close(fd) } }
        let stdin: (read: Int32, write: Int32)
        if hasInput {
            stdin = try pipeEnds()
        } else {
            let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            opened.append(null)
            stdin = (null, -1)
        }
        let stdout: (read: Int32, write: Int32)
        let stderr: (read: Int32, write: Int32)
        switch output {
        case .pipes:
            stdout = try pipeEnds()
            stderr = try pipeEnds()
        case .file(let path):
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SSHError("cannot open \(path) for ssh's messages: \(String(cString: strerror(errno)))") }
            opened.append(fd)
            stdout = (-1, fd)
            stderr = (-1, fd)
        }

        // A session of its own: no controlling terminal, so ssh never prompts on one.
        let pid: pid_t
        do {
            pid = try PosixSpawn.spawn(executable, arguments: arguments, environment: environment,
                                       streams: (stdin.read, stdout.write, stderr.write), grouping: .ownSession)
        } catch {
            throw SSHError(error.description)
        }
        // The parent keeps its own ends; the child's were duplicated into it.
        let kept: [Int32] = [stdin.write, stdout.read, stderr.read].filter { $0 >= 0 }
        opened.removeAll { kept.contains($0) }
        return Child(pid: pid, input: hasInput ? stdin.write : nil, output: stdout.read >= 0 ? stdout.read : nil, errors: stderr.read >= 0 ? stderr.read : nil)
    }

    /// Writes all of `input` (the caller then closes the channel: end of file for the command).
    /// A command that stops reading (it failed, or was killed) ends the writing with EPIPE.
    private static func write(_ input: SSHInput, to fd: Int32) {
        func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        switch input {
        case .bytes(let buffer):
            _ = buffer.readableBytesView.withUnsafeBytes { writeAll($0) }
        case .file(let url):
            guard let file = try? FileHandle(forReadingFrom: url) else { return }
            defer { try? file.close() }
            while let chunk = try? file.read(upToCount: 256 * 1024), !chunk.isEmpty {
                guard chunk.withUnsafeBytes({ writeAll($0) }) else { return }
            }
        }
    }
}

/// One run's output and whether it was killed, shared by its threads and its deadline.
private final class RunState: Sendable {
    private struct State {
        var outcome = OpenSSHProcess.Outcome()
        /// Set (under the lock) just before the pid is reaped: no kill after it.
        var reaped = false
        /// This side's ends not closed yet: a kill shuts them down, never a number reused since.
        var open: Set<Int32>
    }
    let pid: pid_t
    let limit: Int
    let input: Int32?
    private let state: NIOLockedValueBox<State>

    init(pid: pid_t, limit: Int, input: Int32?, descriptors: [Int32]) {
        self.pid = pid
        self.limit = limit
        self.input = input
        self.state = NIOLockedValueBox(State(open: Set(descriptors)))
    }

    /// Closes one of this side's ends.
    func close(_ fd: Int32) {
        state.withLockedValue { value in
            guard value.open.remove(fd) != nil else { return }
            Glibc.close(fd)
        }
    }

    enum Stream: Sendable {
        case output, error
    }

    /// Reads `fd` to its end on a thread of its own, keeping up to `limit` bytes.
    func read(_ fd: Int32, into stream: Stream, group: DispatchGroup) {
        group.enter()
        Thread { [self] in
            defer {
                close(fd)
                group.leave()
            }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return }
                state.withLockedValue { value in
                    let kept = stream == .output ? value.outcome.standardOutput.count : value.outcome.standardError.count
                    let room = max(0, limit - kept)
                    if count > room { value.outcome.truncated = true }
                    if stream == .output {
                        value.outcome.standardOutput += buffer[0..<min(count, room)]
                    } else {
                        value.outcome.standardError += buffer[0..<min(count, room)]
                    }
                }
            }
        }.start()
    }

    /// Marks the run as past its deadline (it may end of itself while `onTimeout` kills it there).
    func expire() {
        state.withLockedValue { value in
            if !value.reaped { value.outcome.timedOut = true }
        }
    }

    /// Kills the process group, unless the process was reaped already, and shuts this side's
    /// output ends down: the reads end, whoever else holds the other ends.
    func kill(timedOut: Bool) {
        state.withLockedValue { value in
            guard !value.reaped else { return }
            if timedOut { value.outcome.timedOut = true }
            killpg(pid, SIGKILL)
            // Not standard input: its end of file would reach the remote command (a `cat` of an
            // upload would finish with half a file) before the caller kills it there.
            for fd in value.open where fd != input { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Blocks until the process exited and its outputs ended, then reaps it.
    func waitForExit(readers: DispatchGroup) -> OpenSSHProcess.Outcome {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
        // A process the group left behind (a ProxyJump's) may hold the output open: the
        // deadline kills it too, which ends the wait.
        readers.wait()
        var status: Int32 = 0
        state.withLockedValue { $0.reaped = true }
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return state.withLockedValue { value in
            var outcome = value.outcome
            // WIFEXITED / WTERMSIG, which Swift does not import (they are macros).
            if status & 0x7f == 0 {
                outcome.status = (status >> 8) & 0xff
            } else {
                outcome.signal = status & 0x7f
            }
            return outcome
        }
    }
}
