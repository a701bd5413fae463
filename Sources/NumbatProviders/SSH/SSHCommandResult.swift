import Foundation

/// What a remote command did.
public struct SSHCommandResult: Sendable {
    /// Output kept per stream of one command, whatever the transport; the rest is counted as
    /// truncated, so a chatty command cannot grow Numbat's memory.
    public static let outputLimit = 1 << 20

    /// The command's exit status; nil when it was killed by a signal or the server sent none.
    public var exitStatus: Int?
    public var signal: String?
    public var standardOutput: String
    public var standardError: String
    /// True when output beyond `outputLimit` was dropped.
    public var truncated: Bool

    public init(exitStatus: Int?, signal: String?, standardOutput: String, standardError: String, truncated: Bool) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.truncated = truncated
    }

    public var succeeded: Bool { exitStatus == 0 }

    /// One line for an error message: the status and the end of stderr (or stdout).
    public var summary: String {
        let status = exitStatus.map { "exit status \($0)" } ?? signal.map { "killed by SIG\($0)" } ?? "no exit status"
        let text = (standardError.isEmpty ? standardOutput : standardError).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? status : "\(status): \(text.suffix(500))"
    }
}
