import ErlangTerm

/// A node name `alive@host`. Long names have a dotted host (`app@db1.example.com`,
/// `app@127.0.0.1`); short names do not (`app@db1`). Erlang nodes only talk to nodes of their
/// own style, so the local node presents a matching name to each peer.
public struct NodeName: Sendable, Hashable, CustomStringConvertible {
    public let alive: String
    public let host: String
    /// `alive@host` as an atom, made once: the node's tables are keyed by it, and an rpc looked
    /// it up twice and `isLocal` built two more, each a new `String` (3,100 of a round trip's
    /// 55,800 instructions in callgrind).
    public let atom: Atom
    /// Whether this is a long (fully qualified or numeric) name: a host with a dot or a colon.
    /// Kept, not worked out per use: a mailbox's send asks it for its pid's local name, and
    /// Foundation's `contains` took a quarter of a one-way message's instructions.
    public let isLong: Bool

    public init(alive: String, host: String) {
        self.init(alive: alive, host: host, atom: Atom("\(alive)@\(host)"))
    }

    private init(alive: String, host: String, atom: Atom) {
        self.alive = alive
        self.host = host
        self.atom = atom
        isLong = host.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
    }

    /// Names are equal when their parts are (`atom` is made of them).
    public static func == (lhs: NodeName, rhs: NodeName) -> Bool { lhs.alive == rhs.alive && lhs.host == rhs.host }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(alive)
        hasher.combine(host)
    }

    /// Parses `alive@host`, checking what `net_kernel` checks. One pass over the UTF-8 bytes
    /// (a managed node's name is parsed on every rpc to it: splitting and Foundation's
    /// `contains` cost 16,000 instructions a name, more than the rest of a metric collection's
    /// call); a host with non-ASCII letters is checked scalar by scalar.
    public init(_ text: String) throws(DistributionError) {
        var text = text
        let parts = text.withUTF8 { bytes -> (alive: String, host: String)? in
            guard let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1 else { return nil }
            return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<at]), as: UTF8.self),
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[(at + 1)...]), as: UTF8.self))
        }
        guard let (alive, host) = parts else {
            throw .invalidNodeName(text, "a node name is alive@host, e.g. app@127.0.0.1")
        }
        var aliveBytes = alive
        guard alive.utf8.count <= 255, aliveBytes.withUTF8({ $0.allSatisfy(Self.isAliveByte) }) else {
            throw .invalidNodeName(text, "the part before @ may hold letters, digits, '_' and '-' only")
        }
        guard host.utf8.count <= 255, Self.isHost(host) else {
            throw .invalidNodeName(text, "the host part is not a valid host name or address")
        }
        self.init(alive: alive, host: host, atom: Atom(text))
    }

    private static func isAliveByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    /// Letters (any script), digits and `-._:[]` (names, IPv4 and bracketed IPv6 addresses).
    private static func isHost(_ host: String) -> Bool {
        var host = host
        let ascii = host.withUTF8 { bytes -> Bool? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            return bytes.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                     UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
                default: false
                }
            }
        }
        if let ascii { return ascii }
        return host.unicodeScalars.allSatisfy { scalar in
            scalar != "@" && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._:[]".unicodeScalars.contains(scalar))
        }
    }

    public var description: String { atom.name }
}
