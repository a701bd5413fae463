import Foundation

/// Runs short Erlang programs with `erl -noshell`, for tests that need the BEAM as a reference
/// (encoding, decoding and comparing terms) or as a short-lived peer (`net_adm:ping` from a
/// fresh node).
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
        try release.requireInstalled()
        let result = try ChildProcess.runBlocking(release.erl, ["-noshell", "-noinput"] + extraArgs + ["-eval", expression])
        let output = result.standardOutput + result.standardError
        guard result.status == 0 else { throw Failure(status: result.status, output: output) }
        return output
    }
}
