import Foundation

/// Runs a program to completion and captures what it printed: the `erl` scripts of the tests
/// and the `numbat` CLI under test.
public struct ChildProcess: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    /// Runs `executable` with `arguments` off the cooperative pool (see `offPool`).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> ChildProcess {
        try await offPool { try runBlocking(executable, arguments, environment: environment) }
    }

    /// `run`, blocking the calling thread.
    public static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        // Crash dumps, if any, land in the temporary directory, not in the work tree.
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let error = Pipe()
        // Close-on-exec at once: a child another test thread forks meanwhile (an sshd, a BEAM)
        // would otherwise inherit these pipes' write ends and hold back their end of file for
        // as long as it lives (seen: a finished ssh-keygen waited on for minutes beside an
        // sshd). Foundation's dup2 onto the child's 0/1/2 gives the child copies without it.
        for handle in [output.fileHandleForReading, output.fileHandleForWriting, error.fileHandleForReading, error.fileHandleForWriting] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        process.standardOutput = output
        process.standardError = error
        try process.runUnblocked()
        // Both pipes drained on threads of their own, so neither can fill up and stall the child.
        let outputData = LockedData()
        let errorData = LockedData()
        Thread { outputData.read(output.fileHandleForReading) }.start()
        Thread { errorData.read(error.fileHandleForReading) }.start()
        let status = waitForExit(process)
        // What the program wrote is in the pipes once it has exited; should a pipe still have a
        // writer elsewhere, its end of file is not waited for beyond a bound.
        let deadline = Date().addingTimeInterval(10)
        while !(outputData.isSet && errorData.isSet), Date() < deadline { usleep(1000) }
        let (outputBytes, errorBytes) = (outputData.value, errorData.value)
        return ChildProcess(status: status,
                            standardOutput: String(decoding: outputBytes, as: UTF8.self),
                            standardError: String(decoding: errorBytes, as: UTF8.self))
    }
}

/// The child's exit status (128 + signal when killed). Foundation's `waitUntilExit()` on Linux
/// can miss a child's exit and wait for ever (seen with a zombie beside long-running sshd
/// children), so this watches for the exit itself with `waitid(WNOWAIT)`, which sees a zombie
/// without reaping it: the reaping stays Foundation's, whose process monitor must not find its
/// children taken from it.
public func waitForExit(_ process: Process) -> Int32 {
    waitForExit(process, timeout: nil)!
}

/// `waitForExit`, giving up (nil) after `timeout` seconds.
public func waitForExit(_ process: Process, timeout: Double?) -> Int32? {
    let pid = process.processIdentifier
    let deadline = timeout.map { Date().addingTimeInterval($0) }
    repeat {
        var info = siginfo_t()
        let seen = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if seen == 0, info._sifields._sigchld.si_pid == pid {
            let status = info._sifields._sigchld.si_status
            return info.si_code == CLD_EXITED ? status : 128 + status
        }
        if seen == -1, errno == ECHILD, !process.isRunning {
            // Foundation reaped it already and recorded the status.
            return process.terminationStatus
        }
        usleep(2000)
    } while deadline.map({ Date() < $0 }) ?? true
    return nil
}

/// Bytes read from a pipe by another thread, chunk by chunk, so that what arrived can be taken
/// even if the end of file never comes.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var finished = false

    /// Reads `handle` to its end of file.
    func read(_ handle: FileHandle) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            lock.withLock { data.append(chunk) }
        }
        lock.withLock { finished = true }
    }

    var isSet: Bool { lock.withLock { finished } }
    var value: Data { lock.withLock { data } }
}
