/// Hosts that already exist (seed 4.1.1 "physical provider"): nothing is created or destroyed;
/// "creating an instance" picks the host with the fewest of the family's nodes, and key pairs
/// and firewalls are the hosts' own business.
public struct PhysicalProvider: InfrastructureProvider {
    public struct Host: Codable, Sendable, Hashable {
        public var address: String
        public var sshPort: Int

        public init(address: String, sshPort: Int = 22) {
            self.address = address
            self.sshPort = sshPort
        }

        enum CodingKeys: String, CodingKey {
            case address
            case sshPort = "ssh_port"
        }
    }

    public let hosts: [Host]
    public var kind: ProviderKind { .physical }

    public init(hosts: [Host]) {
        self.hosts = hosts
    }

    public func createInstance(_ request: InstanceRequest) async throws -> ProvisionedInstance {
        guard !hosts.isEmpty else { throw ProviderError("the physical provider has no hosts") }
        let load = Dictionary(request.addressesInUse.map { ($0, 1) }, uniquingKeysWith: +)
        let host = hosts.enumerated().min { a, b in
            (load[a.element.address] ?? 0, a.offset) < (load[b.element.address] ?? 0, b.offset)
        }!.element
        return ProvisionedInstance(id: host.address, address: host.address, sshPort: host.sshPort, state: "running")
    }

    public func destroyInstance(id: String) async throws {}

    public func instance(id: String) async throws -> ProvisionedInstance? {
        hosts.first { $0.address == id }.map { ProvisionedInstance(id: $0.address, address: $0.address, sshPort: $0.sshPort, state: "running") }
    }

    public func importKeyPair(name: String, publicKey: String) async throws {}
    public func deleteKeyPair(name: String) async throws {}
    public func createSecurityGroup(name: String, description: String, rules: [FirewallRule]) async throws -> String { "" }
    public func deleteSecurityGroup(id: String) async throws {}
    public func images() async throws -> [ProviderOffering] { [] }
    public func sizes() async throws -> [ProviderOffering] { [] }
}
