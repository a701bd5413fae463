import Foundation

/// Any Apache Libcloud compute driver, through a `LibcloudBridge` (seed 3.1: elibcloud). What a
/// driver cannot do is said plainly: `features` tells whether it imports key pairs and has
/// security groups, so a family's firewall on the dummy driver is reported as not applied.
public struct LibcloudProvider: InfrastructureProvider {
    public enum AddressType: String, Codable, Sendable {
        case `public`, `private`
    }

    public let bridge: LibcloudBridge
    /// The port the driver's images run sshd on.
    public var sshPort: Int
    /// Which of a node's addresses Numbat reaches it on; the other is used when it has none.
    public var addressType: AddressType
    /// How long a new node may take to run with an address.
    public var launchTimeout: Duration
    public var kind: ProviderKind { .libcloud }

    public init(bridge: LibcloudBridge, sshPort: Int = 22, addressType: AddressType = .public, launchTimeout: Duration = .seconds(600)) {
        self.bridge = bridge
        self.sshPort = sshPort
        self.addressType = addressType
        self.launchTimeout = launchTimeout
    }

    struct Node: Decodable, Sendable {
        var id: String
        var name: String
        var state: String
        var publicIPs: [String]
        var privateIPs: [String]

        enum CodingKeys: String, CodingKey {
            case id, name, state
            case publicIPs = "public_ips"
            case privateIPs = "private_ips"
        }
    }

    struct Found: Decodable, Sendable { var node: Node? }
    struct Empty: Decodable, Sendable {}
    struct Group: Decodable, Sendable { var id: String }

    /// The operations beyond nodes the driver implements (`import_key_pair`, `delete_key_pair`,
    /// `create_security_group`).
    public func features() async throws -> Set<String> {
        Set(try await bridge.hello().features)
    }

    public func createInstance(_ request: InstanceRequest) async throws -> ProvisionedInstance {
        var arguments: [String: LibcloudValue] = [
            "name": .string(request.name), "image": .string(request.image), "size": .string(request.size),
            "wait_seconds": .int(Int(launchTimeout.components.seconds)),
        ]
        if let key = request.keyName { arguments["key_name"] = .string(key) }
        if let group = request.securityGroup, !group.isEmpty { arguments["security_group"] = .string(group) }
        // The bridge waits for the node itself; a little longer here covers its last poll.
        let node: Node = try await bridge.call("create_node", arguments, timeout: launchTimeout + .seconds(60))
        return instance(node)
    }

    public func destroyInstance(id: String) async throws {
        let _: Empty = try await bridge.call("destroy_node", ["id": .string(id)])
    }

    public func instance(id: String) async throws -> ProvisionedInstance? {
        let found: Found = try await bridge.call("node", ["id": .string(id)])
        return found.node.map(instance)
    }

    private func instance(_ node: Node) -> ProvisionedInstance {
        let preferred = addressType == .public ? node.publicIPs + node.privateIPs : node.privateIPs + node.publicIPs
        return ProvisionedInstance(id: node.id, address: preferred.first, sshPort: sshPort, state: node.state)
    }

    public func importKeyPair(name: String, publicKey: String) async throws {
        let _: Empty = try await bridge.call("import_key_pair", ["name": .string(name), "public_key": .string(publicKey)])
    }

    public func deleteKeyPair(name: String) async throws {
        guard try await features().contains("delete_key_pair") else { return }
        let _: Empty = try await bridge.call("delete_key_pair", ["name": .string(name)])
    }

    public func createSecurityGroup(name: String, description: String, rules: [FirewallRule]) async throws -> String {
        let encoded: [LibcloudValue] = rules.map {
            .object(["protocol": .string($0.ipProtocol), "port_from": .int($0.portFrom), "port_to": .int($0.portTo), "source": .string($0.source)])
        }
        let group: Group = try await bridge.call("create_security_group", ["name": .string(name), "description": .string(description), "rules": .array(encoded)])
        return group.id
    }

    public func deleteSecurityGroup(id: String) async throws {
        let _: Empty = try await bridge.call("delete_security_group", ["id": .string(id)])
    }

    public func images() async throws -> [ProviderOffering] {
        try await bridge.call("list_images")
    }

    public func sizes() async throws -> [ProviderOffering] {
        try await bridge.call("list_sizes")
    }
}
