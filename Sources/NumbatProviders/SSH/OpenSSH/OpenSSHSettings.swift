/// How Numbat runs OpenSSH's client for hosts it has no key of its own for: the server user's
/// keys, agent, known_hosts and ssh_config, as `ssh` would use them at the user's prompt.
public struct OpenSSHSettings: Sendable, Equatable {
    /// What Numbat does with a host key it has not seen before. A changed key is refused
    /// whatever this says.
    public enum HostKeys: String, Sendable, Equatable, CaseIterable {
        /// Trust on first use, as Numbat does with its own key: the key is added to the
        /// known_hosts file OpenSSH uses (`StrictHostKeyChecking=accept-new`).
        case acceptNew = "accept-new"
        /// Only hosts already in known_hosts (`StrictHostKeyChecking=yes`).
        case strict
        /// Whatever the ssh_config says (OpenSSH's default asks, which without a terminal is a refusal).
        case config
    }

    /// The client: Debian's openssh-client.
    public var executable = "/usr/bin/ssh"
    /// An ssh_config to use instead of `~/.ssh/config` and `/etc/ssh/ssh_config` (`ssh -F`); nil:
    /// OpenSSH's own. OpenSSH finds `~` in the user's passwd entry, not `$HOME`, so this is how
    /// another configuration is given (tests, a service user with its configuration elsewhere).
    public var configFile: String?
    /// The agent's socket (`SSH_AUTH_SOCK` for ssh); nil: the server's own `SSH_AUTH_SOCK`, if any.
    public var agentSocket: String?
    public var hostKeys: HostKeys = .acceptNew
    /// TCP connection timeout of each hop, in seconds (`ConnectTimeout`).
    public var connectTimeoutSeconds = 15
    /// How long an idle shared connection stays up, in seconds (`ControlPersist`): a deployment's
    /// commands reuse one login; a server that died leaves none behind for longer than this.
    public var persistSeconds = 60
    /// Where the private directories of the shared connections' sockets go. Short: a socket's
    /// path has at most 107 bytes.
    public var socketDirectory = "/tmp"

    public init(configFile: String? = nil, agentSocket: String? = nil, hostKeys: HostKeys = .acceptNew) {
        self.configFile = configFile
        self.agentSocket = agentSocket
        self.hostKeys = hostKeys
    }
}
