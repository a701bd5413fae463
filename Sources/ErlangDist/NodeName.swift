import ErlangTerm

/// A node name `alive@host`. Long names have a dotted host (`app@db1.example.com`,
/// `app@127.0.0.1`); short names do not (`app@db1`). Erlang nodes only talk to nodes of their
/// own style, so the local node presents a matching name to each peer.
public struct NodeName: Sendable, Hashable, CustomStringConvertible {
    public let alive: String
    public let host: String

    public init(alive: String, host: String) {
        self.alive = alive
        self.host = host
    }

    /// Parses `alive@host`, checking what `net_kernel` checks.
    public init(_ text: String) throws(DistributionError) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .invalidNodeName(text, "a node name is alive@host, e.g. app@127.0.0.1")
        }
        let alive = String(parts[0])
        let host = String(parts[1])
        guard alive.utf8.count <= 255, alive.unicodeScalars.allSatisfy(Self.isAliveCharacter) else {
            throw .invalidNodeName(text, "the part before @ may hold letters, digits, '_' and '-' only")
        }
        guard !host.contains("@"), host.utf8.count <= 255,
            host.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._:[]".unicodeScalars.contains($0) })
        else {
            throw .invalidNodeName(text, "the host part is not a valid host name or address")
        }
        self.init(alive: alive, host: host)
    }

    private static func isAliveCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "_" || scalar == "-"
    }

    /// Whether this is a long (fully qualified or numeric) name.
    public var isLong: Bool { host.contains(".") || host.contains(":") }

    public var description: String { "\(alive)@\(host)" }
    public var atom: Atom { Atom(description) }
}
