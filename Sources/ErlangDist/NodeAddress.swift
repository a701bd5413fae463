/// Where to reach a node: its name and, for a node that runs without EPMD, its fixed
/// distribution port. Written `app@host:9100`, or `app@[::1]:9100` when the host is an IPv6
/// address (whose colons would otherwise be read as the port's).
public struct NodeAddress: Sendable, Hashable, CustomStringConvertible {
    public let name: NodeName
    /// The distribution port the node listens on (`-erl_epmd_port`, `ERL_DIST_PORT`); nil: ask EPMD.
    public let port: Int?

    public init(name: NodeName, port: Int? = nil) {
        self.name = name
        self.port = port
    }

    /// Parses `alive@host`, `alive@host:PORT` or `alive@[IPv6]:PORT`. A host with several colons
    /// and no brackets is an IPv6 address without a port (`app@::1`), as Erlang names such nodes.
    public init(_ text: String) throws(DistributionError) {
        guard let at = text.firstIndex(of: "@") else { self.init(name: try NodeName(text)); return }
        let alive = text[..<at]
        let host = text[text.index(after: at)...]
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let inside = host[host.index(after: host.startIndex)..<close]
            let rest = host[host.index(after: close)...]
            let port: Int?
            if rest.isEmpty {
                port = nil
            } else if rest.hasPrefix(":"), let parsed = Self.port(rest.dropFirst()) {
                port = parsed
            } else {
                throw .invalidNodeName(text, "after [address] comes nothing or :PORT, a port from 1 to 65535")
            }
            self.init(name: try NodeName("\(alive)@\(inside)"), port: port)
            return
        }
        let colons = host.filter { $0 == ":" }.count
        if colons == 1, let colon = host.firstIndex(of: ":") {
            guard let port = Self.port(host[host.index(after: colon)...]) else {
                throw .invalidNodeName(text, "after host: comes the node's distribution port, from 1 to 65535")
            }
            self.init(name: try NodeName("\(alive)@\(host[..<colon])"), port: port)
            return
        }
        self.init(name: try NodeName(text))
    }

    static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCIIDigit), let port = Int(text), (1...65535).contains(port) else { return nil }
        return port
    }

    public var description: String {
        guard let port else { return name.description }
        return name.host.contains(":") ? "\(name.alive)@[\(name.host)]:\(port)" : "\(name.description):\(port)"
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
