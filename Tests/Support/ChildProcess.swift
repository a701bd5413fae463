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
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Drain stderr on its own thread so neither pipe can fill up and stall the child.
        let errorData = LockedData()
        let drain = Thread { errorData.set(error.fileHandleForReading.readDataToEndOfFile()) }
        drain.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let status = waitForExit(process)
        while !errorData.isSet { usleep(1000) }
        return ChildProcess(status: status,
                            standardOutput: String(decoding: outputData, as: UTF8.self),
                            standardError: String(decoding: errorData.value, as: UTF8.self))
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

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
