import Foundation

/// What an operator's `ssh` reads, made for one test in a directory of its own (never
/// `/root/.ssh`): an RSA key (`ssh-keygen -t rsa`, the seed's example), a known_hosts and an
/// ssh_config naming them, given to Numbat as `ssh -F`.
public struct OperatorSSH: Sendable {
    public let directory: URL
    public let publicKey: String

    public var keyFile: URL { directory.appendingPathComponent("id_rsa") }
    public var knownHosts: URL { directory.appendingPathComponent("known_hosts") }
    public var configFile: URL { directory.appendingPathComponent("ssh_config") }

    /// A new directory under the temporary one with an RSA key pair in it.
    public static func make() async throws -> OperatorSSH {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-operator-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("id_rsa").path
        try await TestHosts.sh("ssh-keygen -q -t rsa -b 3072 -N '' -C numbat-operator -f \(keyFile)")
        let publicKey = try String(contentsOfFile: keyFile + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return OperatorSSH(directory: directory, publicKey: publicKey)
    }

    /// Writes the ssh_config: `hosts` (Host blocks, first match wins) before the defaults, which
    /// log in as root with the RSA key file (or, `keyFile: false`, with no key file: the agent's
    /// keys only) and keep host keys in this directory's known_hosts, for a jump host's own
    /// `ssh` too (it gets only the configuration, none of Numbat's `-o`).
    public func writeConfig(hosts: String = "", keyFile useKeyFile: Bool = true) throws {
        try """
            \(hosts)
            Host *
              User root
              IdentityFile \(useKeyFile ? keyFile.path : "none")
              IdentitiesOnly \(useKeyFile ? "yes" : "no")
              UserKnownHostsFile \(knownHosts.path)
              GlobalKnownHostsFile /dev/null
              StrictHostKeyChecking accept-new
              BatchMode yes

            """.write(to: configFile, atomically: true, encoding: .utf8)
    }

    /// Runs `body` with new files (the default ssh_config written) and `count` hosts taking the
    /// RSA key (`TestHosts.start`'s `behindBastion`), removing both however it ends.
    public static func with<T>(hosts count: Int, behindBastion: Int = 0, _ body: (OperatorSSH, TestHosts) async throws -> T) async throws -> T {
        let files = try await make()
        defer { files.remove() }
        try files.writeConfig()
        return try await TestHosts.with(count: count, authorizedKeys: [files.publicKey], behindBastion: behindBastion) { hosts in
            try await body(files, hosts)
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// An ssh-agent of the test's own (`ssh-agent -a SOCKET`), killed by its pid at the end.
public final class SSHAgent: Sendable {
    public let socket: String
    private let pid: Int32

    private init(socket: String, pid: Int32) {
        self.socket = socket
        self.pid = pid
    }

    /// Starts an agent listening on `directory/agent.sock`. `ssh-agent` answers once its socket
    /// is bound, then runs on in the background; its pid is in what it prints.
    public static func with<T>(in directory: URL, _ body: (SSHAgent) async throws -> T) async throws -> T {
        let socket = directory.appendingPathComponent("agent.sock").path
        let started = try await ChildProcess.run("/usr/bin/ssh-agent", ["-s", "-a", socket])
        guard started.status == 0, let pid = started.standardOutput.firstMatch(of: /SSH_AGENT_PID=(\d+)/).flatMap({ Int32($0.1) }) else {
            throw TestHosts.Failure(description: "ssh-agent did not start: \(started.standardOutput) \(started.standardError)")
        }
        let agent = SSHAgent(socket: socket, pid: pid)
        // SIGKILL: the test process may block SIGTERM, and a child inherits the mask.
        defer { kill(pid, SIGKILL) }
        return try await body(agent)
    }

    /// Gives the agent the key in `file` (`ssh-add`).
    public func add(_ file: URL) async throws {
        let added = try await ChildProcess.run("/usr/bin/ssh-add", [file.path], environment: ["SSH_AUTH_SOCK": socket, "PATH": "/usr/bin:/bin"])
        guard added.status == 0 else { throw TestHosts.Failure(description: "ssh-add failed: \(added.standardError)") }
    }

    /// The keys the agent holds (`ssh-add -L`).
    public func keys() async throws -> String {
        try await ChildProcess.run("/usr/bin/ssh-add", ["-L"], environment: ["SSH_AUTH_SOCK": socket, "PATH": "/usr/bin:/bin"]).standardOutput
    }
}
