import ErlangTerm

/// Everything that can go wrong talking to Erlang nodes, each case with a message a user can act on.
public enum DistributionError: Error, Sendable, CustomStringConvertible {
    case invalidNodeName(String, String)
    /// EPMD on the host could not be reached.
    case epmdUnreachable(host: String, port: Int, reason: String)
    /// EPMD answered that no node of that name runs on the host.
    case nodeNotRegistered(NodeName)
    case epmdProtocol(String)
    /// EPMD refused the registration (the name is taken, most often).
    case registrationRefused(name: String, result: UInt8)
    case connectionFailed(NodeName, reason: String)
    /// The peer rejected our cookie, or we rejected the peer's.
    case authenticationFailed(NodeName)
    case handshakeRejected(NodeName, status: String)
    case handshakeProtocol(String)
    case missingFlags(NodeName, DistributionFlags)
    case connectionClosed(NodeName)
    case tickTimeout(NodeName)
    case malformedFrame(String)
    case timeout(String)
    case noConnection(NodeName)
    /// An rpc call raised or could not be made: `{badrpc, Reason}`.
    case badRPC(Term)
    case mailboxClosed
    case nameTaken(String)
    case notListening
    /// TLS distribution (`-proto_dist inet_tls`) failed: a certificate that does not verify,
    /// either way, or a key or certificate Numbat could not read.
    case tlsFailed(NodeName?, reason: String)

    public var description: String {
        switch self {
        case .invalidNodeName(let name, let why): return "invalid node name '\(name)': \(why)"
        case .epmdUnreachable(let host, let port, let reason):
            return "cannot reach EPMD at \(host):\(port) (\(reason)); is an Erlang node running on that host?"
        case .nodeNotRegistered(let node): return "no node named '\(node.alive)' is registered with EPMD on \(node.host)"
        case .epmdProtocol(let why): return "unexpected EPMD reply: \(why)"
        case .registrationRefused(let name, let result): return "EPMD refused to register '\(name)' (result \(result)); is the name already in use?"
        case .connectionFailed(let node, let reason): return "cannot connect to \(node): \(reason)"
        case .authenticationFailed(let node): return "\(node) rejected the handshake: the cookies do not match"
        case .handshakeRejected(let node, let status): return "\(node) refused the connection (status '\(status)')"
        case .handshakeProtocol(let why): return "distribution handshake failed: \(why)"
        case .missingFlags(let node, let flags): return "\(node) lacks required distribution capabilities (flags 0x\(String(flags.rawValue, radix: 16)))"
        case .connectionClosed(let node): return "the connection to \(node) closed"
        case .tickTimeout(let node): return "\(node) stopped answering (net_ticktime exceeded)"
        case .malformedFrame(let why): return "malformed distribution frame: \(why)"
        case .timeout(let what): return "timed out: \(what)"
        case .noConnection(let node): return "not connected to \(node)"
        case .badRPC(let reason): return "rpc failed: \(reason.erlangDescription)"
        case .mailboxClosed: return "the mailbox is closed"
        case .nameTaken(let name): return "the name '\(name)' is already registered"
        case .notListening: return "the local node is not listening for connections"
        case .tlsFailed(let node?, let reason): return "TLS distribution with \(node) failed: \(reason)"
        case .tlsFailed(nil, let reason): return "TLS distribution: \(reason)"
        }
    }
}
