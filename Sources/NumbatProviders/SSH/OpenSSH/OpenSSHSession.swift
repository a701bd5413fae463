import Foundation

/// A host reached with OpenSSH's own client, as an operator's `ssh` reaches it: the server
/// user's keys of any type (RSA included), the agent, known_hosts and ssh_config (User, Port,
/// ProxyJump, IdentityFile...). swift-nio-ssh has none of these; OpenSSH is also what Ansible
/// runs by default.
///
/// One login per session: `connect` starts a master connection (`ControlMaster`) in a private
/// directory, and every command is a multiplexed `ssh` over it. The master outlives an idle
/// `ControlPersist` only; `close` ends it at once. A command that finds the master gone logs
/// in again on its own.
///
/// The guarantees are those of `SSHConnection`: `BatchMode` (never a prompt), host keys checked
/// (`OpenSSHSettings.HostKeys`), output bounded, uploads atomic (`RemoteShell.upload`), and a
/// command past its deadline killed: the local `ssh` with its process group, and the remote
/// command's process group through a second command (OpenSSH's multiplexing forwards no signal).
public final class OpenSSHSession: RemoteShell {
    public let target: SSHTarget
    private let settings: OpenSSHSettings
    /// The master's private directory (mode 0700): its socket and its log.
    private let directory: String

    private init(target: SSHTarget, settings: OpenSSHSettings, directory: String) {
        self.target = target
        self.settings = settings
        self.directory = directory
    }

    /// Logs in (the master connection) and returns once `ssh` says the login succeeded.
    /// `target.port` 22 and an empty `target.user` leave the port and the user to the ssh_config.
    public static func connect(to target: SSHTarget, settings: OpenSSHSettings = OpenSSHSettings(),
                               timeout: Duration = .seconds(30)) async throws -> OpenSSHSession {
        guard FileManager.default.isExecutableFile(atPath: settings.executable) else {
            throw SSHError("\(settings.executable) is missing: install Debian's openssh-client to reach hosts with the server user's own SSH setup")
        }
        var template = Array("\(settings.socketDirectory)/numbat-ssh-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SSHError("cannot make a private directory in \(settings.socketDirectory) for ssh: \(String(cString: strerror(errno)))")
        }
        let session = OpenSSHSession(target: target, settings: settings, directory: String(cString: made))
        let log = session.directory + "/login.log"
        // -f: ssh goes to the background once logged in, so its exit is the answer; -N: no command.
        let outcome: OpenSSHProcess.Outcome
        do {
            outcome = try await OpenSSHProcess.run(settings.executable, session.options(master: true) + ["-M", "-N", "-f", "--", target.host],
                                                   environment: session.environment, input: nil, output: .file(log), timeout: timeout)
        } catch {
            session.removeDirectory()
            throw error
        }
        guard outcome.status == 0, !outcome.timedOut else {
            let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            session.removeDirectory()
            if outcome.timedOut { throw SSHError("logging in to \(target) did not finish within \(timeout)") }
            var failure = OpenSSHFailure(standardError: said) ?? .other
            // A jump host's `ssh` keeps quiet (ssh sends its messages to /dev/null beside a
            // ControlPersist master): what failed is told by the config naming one.
            if failure == .other || failure == .jumpFailed(via: nil), let jump = await session.jumpHost() { failure = .jumpFailed(via: jump) }
            throw SSHError(failure.message(target: target, standardError: said))
        }
        return session
    }

    /// The jump host the ssh_config names for the target (`ssh -G`, which only reads the
    /// configuration), if any.
    private func jumpHost() async -> String? {
        guard let outcome = try? await OpenSSHProcess.run(settings.executable, options(master: false) + ["-G", "--", target.host],
                                                          environment: environment, input: nil, timeout: .seconds(10)) else { return nil }
        let line = String(decoding: outcome.standardOutput, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("proxyjump ") }
        return line.map { String($0.dropFirst("proxyjump ".count)) }
    }

    public func run(_ command: String, standardInput: SSHInput?, timeout: Duration) async throws -> SSHCommandResult {
        // The remote shell notes its pid (its process group: sshd made it a session leader)
        // where a timeout's second command finds it.
        let pidFile = "\"${TMPDIR:-/tmp}/numbat-ssh-\(UUID().uuidString.lowercased()).pid\""
        let wrapped = "echo $$ > \(pidFile); /bin/sh -c \(ShellQuote.quote(command)); numbat_status=$?; rm -f \(pidFile); exit $numbat_status"
        // At the deadline the command is killed on the host first: killing the local `ssh`
        // first would end the command's input, and a `cat` of an upload would finish.
        let outcome = try await OpenSSHProcess.run(settings.executable, options(master: false) + ["-T", "--", target.host, wrapped],
                                                   environment: environment, input: standardInput, timeout: timeout) { [self] in
            _ = try? await OpenSSHProcess.run(settings.executable, options(master: false) + ["-T", "--", target.host,
                                              "kill -9 -$(cat \(pidFile)) 2>/dev/null; rm -f \(pidFile)"],
                                              environment: environment, input: nil, timeout: .seconds(15))
        }
        let standardError = String(decoding: outcome.standardError, as: UTF8.self)
        if outcome.timedOut {
            throw SSHError("running \(command.prefix(80)) on \(target) did not finish within \(timeout)")
        }
        if outcome.status == 255, let failure = OpenSSHFailure(standardError: standardError) {
            throw SSHError(failure.message(target: target, standardError: standardError))
        }
        return SSHCommandResult(exitStatus: outcome.status.map(Int.init), signal: outcome.signal.map { "\($0)" },
                                standardOutput: String(decoding: outcome.standardOutput, as: UTF8.self), standardError: standardError,
                                truncated: outcome.truncated)
    }

    /// Ends the master connection (`ssh -O exit`) and removes its directory.
    public func close() async {
        _ = try? await OpenSSHProcess.run(settings.executable, options(master: false) + ["-O", "exit", "--", target.host],
                                          environment: environment, input: nil, timeout: .seconds(10))
        removeDirectory()
    }

    /// The options of every `ssh` of this session. On the command line they win over the
    /// ssh_config; a ProxyJump's own `ssh` gets only `-F` and the configuration.
    private func options(master: Bool) -> [String] {
        var options: [String] = []
        if let file = settings.configFile { options += ["-F", file] }
        options += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=\(settings.connectTimeoutSeconds)",
                    "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR",
                    "-o", "ControlPath=\(directory)/master",
                    "-o", master ? "ControlPersist=\(settings.persistSeconds)" : "ControlMaster=no"]
        switch settings.hostKeys {
        case .acceptNew: options += ["-o", "StrictHostKeyChecking=accept-new"]
        case .strict: options += ["-o", "StrictHostKeyChecking=yes"]
        case .config: break
        }
        if target.port != 22 { options += ["-p", "\(target.port)"] }
        if !target.user.isEmpty { options += ["-l", target.user] }
        return options
    }

    /// The server's environment, with the agent's socket when one is given and no askpass program.
    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let socket = settings.agentSocket { environment["SSH_AUTH_SOCK"] = socket }
        environment["SSH_ASKPASS_REQUIRE"] = "never"
        return environment
    }

    private func removeDirectory() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
