/// What `ssh`'s messages say went wrong at login, in Numbat's words: a host key that changed, a
/// login refused, a host (or jump host) not reached. `ssh` exits with 255 for all of them.
enum OpenSSHFailure: Equatable {
    case hostKeyChanged
    case hostKeyUnknown
    case permissionDenied
    /// Through the jump host named (`ProxyJump`), when the config names one.
    case jumpFailed(via: String?)
    case unreachable
    case other

    /// The failure `ssh`'s standard error tells of, nil when it tells of none (the remote command
    /// itself exited with 255).
    init?(standardError text: String) {
        if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("has changed and you have requested strict checking") {
            self = .hostKeyChanged
        } else if text.contains("Host key verification failed") || text.contains("No ED25519 host key is known")
                    || text.contains("host key is known for") {
            self = .hostKeyUnknown
        } else if text.contains("Permission denied") || text.contains("Too many authentication failures") {
            self = .permissionDenied
        } else if text.contains("stdio forwarding failed") || text.contains("channel 0: open failed") || text.contains("UNKNOWN port 65535") {
            self = .jumpFailed(via: nil)
        } else if text.contains("ssh: connect to host") || text.contains("Could not resolve hostname") || text.contains("Connection timed out")
                    || text.contains("Connection refused") || text.contains("No route to host") {
            self = .unreachable
        } else if text.contains("kex_exchange_identification") || text.contains("Connection closed by") || text.contains("Connection reset by")
                    || text.contains("Bad configuration option") || text.contains("Can't open user config file") || text.contains("ssh: ")
                    || text.contains("Control socket") {
            self = .other
        } else {
            return nil
        }
    }

    /// One sentence for an error, with the end of `ssh`'s own message.
    func message(target: SSHTarget, standardError text: String) -> String {
        let said = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("@") && !$0.isEmpty }.suffix(3).joined(separator: " ")
        let what = switch self {
        case .hostKeyChanged:
            "the host key of \(target.host) changed (known_hosts holds another): refusing to log in; if the host was rebuilt, remove its old key (ssh-keygen -R)"
        case .hostKeyUnknown:
            "the host key of \(target.host) is not in known_hosts and was not accepted"
        case .permissionDenied:
            "\(target) refused the login: none of the server user's keys (files, agent, ssh_config) is in its authorized_keys"
        case .jumpFailed(let jump):
            "the way to \(target.host) through its jump host (ProxyJump \(jump ?? "")) failed; the jump host's own messages are not kept"
        case .unreachable:
            "cannot reach \(target.host)"
        case .other:
            "ssh to \(target) failed"
        }
        return said.isEmpty ? what : "\(what) (ssh: \(said.suffix(400)))"
    }
}
