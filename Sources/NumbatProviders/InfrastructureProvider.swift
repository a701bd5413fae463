/// The kinds of infrastructure a node family's domains can deploy on (seed 3.1, 4.1.1).
public enum ProviderKind: String, Codable, Sendable, CaseIterable {
    /// Hosts that already exist and take Numbat's SSH key.
    case physical
    /// Amazon EC2 (or anything speaking its Query API), through Numbat's own client.
    case ec2
    /// OpenStack: Keystone v3, Nova, Neutron.
    case openstack
    /// Any Apache Libcloud compute driver, through `numbat-libcloud-bridge` (the seed's elibcloud).
    case libcloud
}

/// An inbound firewall rule of a node family (seed listing 9).
public struct FirewallRule: Codable, Sendable, Hashable {
    public var ipProtocol: String
    public var portFrom: Int
    public var portTo: Int
    /// Where traffic may come from, as a CIDR block.
    public var source: String

    public init(ipProtocol: String, portFrom: Int, portTo: Int, source: String = "0.0.0.0/0") {
        self.ipProtocol = ipProtocol
        self.portFrom = portFrom
        self.portTo = portTo
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case ipProtocol = "protocol"
        case portFrom = "port_from"
        case portTo = "port_to"
        case source
    }
}

/// What a deployment asks a provider for: one machine for one node.
public struct InstanceRequest: Sendable {
    /// A name the provider shows and the idempotency key for clouds that take one, so a retried
    /// request never starts a second machine: `numbat-<node id>`.
    public var name: String
    /// The image (the seed's "virtual disk"); ignored by physical providers.
    public var image: String
    /// The machine size (the seed's "hardware profile"); ignored by physical providers.
    public var size: String
    /// The name of the family's key pair imported into the provider.
    public var keyName: String?
    /// The family's security group in the provider.
    public var securityGroup: String?
    /// Addresses the family already uses on this provider, so a physical provider can spread nodes.
    public var addressesInUse: [String]

    public init(name: String, image: String, size: String, keyName: String? = nil, securityGroup: String? = nil, addressesInUse: [String] = []) {
        self.name = name
        self.image = image
        self.size = size
        self.keyName = keyName
        self.securityGroup = securityGroup
        self.addressesInUse = addressesInUse
    }
}

/// A machine a provider made (or, for physical providers, picked).
public struct ProvisionedInstance: Codable, Sendable, Hashable {
    /// The provider's id of the machine; a physical host's address.
    public var id: String
    /// The address Numbat reaches it on (SSH and Erlang distribution); nil while the cloud has none.
    public var address: String?
    public var sshPort: Int
    /// The provider's word for its state (`pending`, `running`, `terminated`, ...).
    public var state: String

    public init(id: String, address: String?, sshPort: Int = 22, state: String) {
        self.id = id
        self.address = address
        self.sshPort = sshPort
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case id, address, state
        case sshPort = "ssh_port"
    }
}

/// An image or size a provider offers, for the dashboard's pickers.
public struct ProviderOffering: Codable, Sendable, Hashable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// A provider's refusal or failure, with the provider's own code when it gave one.
public struct ProviderError: Error, CustomStringConvertible, Sendable {
    public var code: String?
    public var message: String

    public init(_ message: String, code: String? = nil) {
        self.message = message
        self.code = code
    }

    public var description: String { code.map { "\($0): \(message)" } ?? message }
}

/// One kind of infrastructure behind one interface (seed 3.1: "a unified interface"). Every
/// operation is idempotent where the provider allows it, so a retried cleanup finishes the job.
public protocol InfrastructureProvider: Sendable {
    var kind: ProviderKind { get }

    /// Makes a machine and waits until it runs with an address.
    func createInstance(_ request: InstanceRequest) async throws -> ProvisionedInstance
    /// Destroys a machine; a machine that is already gone is not an error.
    func destroyInstance(id: String) async throws
    /// The machine, or nil when the provider no longer knows it.
    func instance(id: String) async throws -> ProvisionedInstance?

    func importKeyPair(name: String, publicKey: String) async throws
    /// Deleting a key pair that is already gone is not an error.
    func deleteKeyPair(name: String) async throws
    /// Creates a security group allowing `rules` inbound, returning its id.
    func createSecurityGroup(name: String, description: String, rules: [FirewallRule]) async throws -> String
    /// Deleting a group that is already gone is not an error.
    func deleteSecurityGroup(id: String) async throws

    func images() async throws -> [ProviderOffering]
    func sizes() async throws -> [ProviderOffering]
}
