import Foundation

/// Runs short Erlang programs with `erl -noshell` (no distribution), for tests that need the BEAM
/// as a reference: encoding, decoding and comparing terms.
public enum ErlangScript {
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int32
        public let output: String
        public var description: String { "erl exited with \(status): \(output)" }
    }

    /// Evaluates `expression` (which should end by calling `halt()`) and returns what it printed.
    @discardableResult
    public static func run(_ release: OTPRelease, _ expression: String, extraArgs: [String] = []) async throws -> String {
        try await offPool { try runBlocking(release, expression, extraArgs: extraArgs) }
    }

    /// `run`, blocking the calling thread; for code that is not async.
    public static func runBlocking(_ release: OTPRelease, _ expression: String, extraArgs: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: release.erl)
        process.arguments = ["-noshell", "-noinput"] + extraArgs + ["-eval", expression]
        // Crash dumps, if any, land in the temporary directory, not in the work tree.
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(status: process.terminationStatus, output: output)
        }
        return output
    }
}
