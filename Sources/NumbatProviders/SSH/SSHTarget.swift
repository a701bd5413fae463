/// Where Numbat logs in: a host, its SSH port and the user.
public struct SSHTarget: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String

    public init(host: String, port: Int = 22, user: String) {
        self.host = host
        self.port = port
        self.user = user
    }

    public var description: String { port == 22 ? "\(user)@\(host)" : "\(user)@\(host):\(port)" }
}

/// An SSH failure, saying what failed where.
public struct SSHError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The host refused the key for the user: the user may not exist (a cloud image that has
    /// only root, as the seed's Rackspace), or the key is not in its authorized_keys.
    public var keyRefused = false
    public init(_ description: String, keyRefused: Bool = false) {
        self.description = description
        self.keyRefused = keyRefused
    }
}
