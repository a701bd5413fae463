import Foundation
import NumbatCore

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
        let process = Subprocess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        // Crash dumps, if any, land in the temporary directory, not in the work tree.
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let error = Pipe()
        // Close-on-exec at once: a child another thread starts meanwhile by other means than
        // `Subprocess` (which closes all but 0/1/2 in the child) would otherwise inherit these
        // pipes' write ends and hold back their end of file for as long as it lives (seen: a
        // finished ssh-keygen waited on for minutes beside an sshd).
        for handle in [output.fileHandleForReading, output.fileHandleForWriting, error.fileHandleForReading, error.fileHandleForWriting] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        process.standardOutput = output
        process.standardError = error
        try process.run()
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

/// The child's exit status (128 + signal when killed), once it exited.
public func waitForExit(_ process: Subprocess) -> Int32 {
    process.waitForExit(timeout: nil)!
}

/// `waitForExit`, giving up (nil) after `timeout` seconds.
public func waitForExit(_ process: Subprocess, timeout: Double?) -> Int32? {
    process.waitForExit(timeout: timeout)
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
