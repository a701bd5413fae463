import Foundation

/// `GET /api/orch/node_families/{id}`: what orchestration knows of a deployment family.
public struct FamilyPlanResponse: Codable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var release: UUID?
    public var firewall: [FirewallRuleBody]
    /// The family's key, which clouds put on new instances.
    public var publicKey: String
    public var domains: [DomainResponse]
    public var nodes: [UUID]

    public init(id: UUID, name: String, release: UUID?, firewall: [FirewallRuleBody], publicKey: String, domains: [DomainResponse], nodes: [UUID]) {
        self.id = id
        self.name = name
        self.release = release
        self.firewall = firewall
        self.publicKey = publicKey
        self.domains = domains
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey {
        case id, name, release, firewall, domains, nodes
        case publicKey = "public_key"
    }
}
