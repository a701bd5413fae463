import Foundation
import NumbatCore

/// A program the tests (and benchmarks) keep running beside them, such as `numbat serve` or
/// `numbat-sim`: started with its own arguments and environment, its output collected, waited
/// on by the lines it prints, and stopped with SIGTERM (SIGKILL after a bound).
public final class BackgroundProcess: @unchecked Sendable {
    public let process: Subprocess
    private let lock = NSLock()
    private var collected = Data()
    /// Whether the output reached its end of file (the program and its children closed it).
    private var outputEnded = false

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var output: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    /// Starts `executable`; `environment` entries are added to this process's own.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = Subprocess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        // Close-on-exec, as ChildProcess explains: other children must not hold this pipe open.
        for handle in [pipe.fileHandleForReading, pipe.fileHandleForWriting] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                self?.lock.withLock { self?.outputEnded = true }
            } else {
                self?.lock.withLock { self?.collected.append(data) }
            }
        }
        try process.run()
    }

    /// The first line starting with `prefix`, waited for up to `timeout` seconds; throws with
    /// the output so far if it does not come or the program exits first.
    public func line(startingWith prefix: String, timeout: Double) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let program = (process.arguments?.dropFirst().first).map { URL(fileURLWithPath: $0).lastPathComponent } ?? process.executableURL?.lastPathComponent ?? "?"
        throw BackgroundProcessFailure(description: "\(program) printed no \"\(prefix)\" line: \(output.suffix(3000))")
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns once it has exited, with its exit
    /// status (128 + signal when killed; nil if it had exited before).
    @discardableResult
    public func stop(grace: Double = 10) async -> Int32? {
        guard process.isRunning else { return nil }
        process.terminate()
        return try? await offPool { [self] in
            var status = waitForExit(process, timeout: grace)
            if status == nil {
                kill(process.processIdentifier, SIGKILL)
                status = waitForExit(process)
            }
            settle()
            return status
        }
    }

    /// SIGKILL, as a crash would.
    public func kill9() async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        _ = try? await offPool { [self] in
            _ = waitForExit(process)
            settle()
        }
    }

    /// After the exit: waits (up to 5 s) until the last output is collected. `waitForExit` sees
    /// the exit first, as a zombie, and the pipe's last bytes may still be on their way to the
    /// reader.
    private func settle() {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !lock.withLock({ outputEnded }) { usleep(2000) }
    }

    /// A built product of this package beside the running test bundle or benchmark, else in
    /// `.build/debug`.
    public static func product(_ name: String) -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
        return PackagePaths.root.appendingPathComponent(".build/debug/\(name)").path
    }
}

public struct BackgroundProcessFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
