import Foundation
import NumbatCore

/// Hosts that already exist, reached by SSH. With a `private_key` (the secret: an unencrypted
/// Ed25519 key) Numbat logs in with that key and shows its public half for the hosts'
/// authorized_keys. Without one, as the seed asks ("passwordless authentication" from the
/// server's machine), Numbat runs OpenSSH's client with the server user's own keys, agent,
/// known_hosts and ssh_config (User, Port, ProxyJump, IdentityFile).
public struct PhysicalProviderSettings: ProviderSettings {
    public static let kind = ProviderKindName.physical
    public static let requestFields: Set<String> = ["hosts", "servers", "directory", "private_key"]
    public static let secretField = "private_key"
    public static let secretRequired = false

    public var hosts: [ProviderHost]
    /// Where releases go on the hosts, relative to the SSH user's home unless absolute.
    public var directory: String?
    /// The public half of the key Numbat logs in with, when it was given one; set by the server,
    /// never taken from a request.
    public var publicKey: String?

    public init(hosts: [ProviderHost], directory: String? = nil, publicKey: String? = nil) {
        self.hosts = hosts
        self.directory = directory
        self.publicKey = publicKey
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // `servers` is the seed's word for the hosts.
        hosts = try container.decodeIfPresent([ProviderHost].self, forKey: .hosts) ?? container.decodeIfPresent([ProviderHost].self, forKey: .servers) ?? []
        directory = try container.decodeText(.directory)
        publicKey = try container.decodeText(.publicKey)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hosts, forKey: .hosts)
        try container.encodeIfPresent(directory, forKey: .directory)
        try container.encodeIfPresent(publicKey, forKey: .publicKey)
    }

    public func validate() throws {
        guard !hosts.isEmpty else { throw NumbatError.invalidField("hosts", "is required: the addresses of hosts reachable by SSH") }
        for host in hosts { try host.validate() }
    }

    public var configuration: ProviderConfiguration { .physical(self) }

    enum CodingKeys: String, CodingKey {
        case hosts, servers, directory
        case publicKey = "public_key"
    }
}

/// A physical provider's host: `"10.0.0.2"`, `"10.0.0.2:2222"` or `{"address": ..., "ssh_port": ...}`
/// in requests; always the object when stored or answered.
public struct ProviderHost: Codable, Sendable, Hashable {
    public var address: String
    public var sshPort: Int

    public init(address: String, sshPort: Int = 22) {
        self.address = address
        self.sshPort = sshPort
    }

    /// `address` or `address:port`, as the CLI's `--host` and the seed write hosts.
    public init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let address = parts.first, !address.isEmpty, parts.count <= 2, let port = parts.count == 2 ? Int(parts[1]) : 22 else {
            throw NumbatError.invalidField("hosts", "holds '\(text.prefix(100))', which is not a host (address or address:port)")
        }
        self.init(address: String(address), sshPort: port)
    }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            try self.init(text)
            return
        }
        try decoder.rejectUnknownFields(["address", "ssh_port"], of: "a host")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(address: try container.decode(String.self, forKey: .address), sshPort: try container.decodeIfPresent(Int.self, forKey: .sshPort) ?? 22)
    }

    public func validate() throws {
        guard !address.isEmpty else { throw NumbatError.invalidField("hosts", "holds a host with no address") }
        guard (1...65535).contains(sshPort) else { throw NumbatError.invalidField("hosts", "holds \(address) with port \(sshPort), not 1-65535") }
    }

    enum CodingKeys: String, CodingKey {
        case address
        case sshPort = "ssh_port"
    }
}
