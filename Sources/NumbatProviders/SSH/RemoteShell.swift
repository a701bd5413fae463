import Foundation
import NIOCore

/// What a deployment needs of a host: commands run through the login user's shell, with a
/// deadline and bounded output, and files written atomically. Two transports give it:
/// `SSHConnection` (swift-nio-ssh, with a key Numbat holds) and `OpenSSHSession` (Debian's
/// `ssh`, with the server user's own keys, agent, known_hosts and ssh_config).
public protocol RemoteShell: Sendable {
    /// Who and where, for messages.
    var target: SSHTarget { get }

    /// Runs `command` through the login user's shell, feeding it `standardInput` (then end of
    /// file). Past `timeout` the command is killed on the host and this throws; a command that
    /// fails is a result, a transport that fails is an `SSHError`.
    func run(_ command: String, standardInput: SSHInput?, timeout: Duration) async throws -> SSHCommandResult

    /// Ends the login; the shell is not used afterwards.
    func close() async
}

/// What a remote command reads on its standard input.
public enum SSHInput: Sendable {
    case bytes(ByteBuffer)
    /// A local file, sent a chunk at a time.
    case file(URL)

    /// How many bytes it holds, when that is known beforehand (not for a FIFO).
    var size: Int? {
        switch self {
        case .bytes(let buffer):
            return buffer.readableBytes
        case .file(let url):
            let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
            guard attributes?[.type] as? FileAttributeType == .typeRegular else { return nil }
            return (attributes?[.size] as? NSNumber)?.intValue
        }
    }
}

/// Quoting for the POSIX shell that runs remote commands.
public enum ShellQuote {
    public static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension RemoteShell {
    /// Runs `command` through the user's shell, feeding it `input` (then end of file).
    public func run(_ command: String, input: ByteBuffer? = nil, timeout: Duration = .seconds(120)) async throws -> SSHCommandResult {
        try await run(command, standardInput: input.map(SSHInput.bytes), timeout: timeout)
    }

    /// Runs `command` and throws unless it exits with status 0. With `idempotent`, a command
    /// whose channel closed without any exit status (seen now and then under load) runs once
    /// more: only for commands that are safe to repeat.
    @discardableResult
    public func check(_ command: String, input: ByteBuffer? = nil, timeout: Duration = .seconds(120), idempotent: Bool = false,
                      doing what: String) async throws -> SSHCommandResult {
        var result = try await run(command, input: input, timeout: timeout)
        if idempotent, result.exitStatus == nil, result.signal == nil {
            result = try await run(command, input: input, timeout: timeout)
        }
        guard result.succeeded else { throw SSHError("\(what) on \(target) failed (\(result.summary))") }
        return result
    }

    /// Writes `data` to `path` on the host, atomically: into a temporary file renamed at the end,
    /// so an interrupted upload never leaves a half file under the real name. Uploads of one
    /// path running at once need distinct `temporarySuffix`es.
    public func upload(_ data: ByteBuffer, to path: String, mode: String = "0644", temporarySuffix: String = "numbat-part",
                       timeout: Duration = .seconds(600)) async throws {
        try await upload(.bytes(data), to: path, mode: mode, temporarySuffix: temporarySuffix, timeout: timeout)
    }

    /// Uploads a local file the same way, a chunk at a time: a release archive of any size is
    /// never held in memory whole, however many nodes are being deployed at once.
    public func upload(file: URL, to path: String, mode: String = "0644", temporarySuffix: String = "numbat-part",
                       timeout: Duration = .seconds(600)) async throws {
        try await upload(.file(file), to: path, mode: mode, temporarySuffix: temporarySuffix, timeout: timeout)
    }

    /// The one upload command of both transports: `cat` into the temporary file, then `mv`
    /// (a rename, atomic on one file system). The file is renamed only if it has every byte:
    /// an input cut short by a lost connection also ends in an end of file for `cat`.
    public func upload(_ input: SSHInput, to path: String, mode: String = "0644", temporarySuffix: String = "numbat-part",
                       timeout: Duration = .seconds(600)) async throws {
        let quoted = ShellQuote.quote(path)
        let temporary = ShellQuote.quote(path + "." + temporarySuffix)
        let whole = input.size.map { " && [ \"$(wc -c < \(temporary))\" -eq \($0) ]" } ?? ""
        let result = try await run("umask 077 && { cat > \(temporary)\(whole) || { rm -f \(temporary); exit 1; }; } && chmod \(mode) \(temporary) && mv -f \(temporary) \(quoted)",
                                   standardInput: input, timeout: timeout)
        guard result.succeeded else { throw SSHError("uploading \(path) on \(target) failed (\(result.summary))") }
    }
}
