import Foundation

/// A group of nodes (seed 4.1.3). Automatic families gather running nodes added by hand, keyed by
/// their boot script; deployment families are made by the user and carry a release, firewall
/// rules, bootstrap strategy and deployment domains (the orchestration service fills those in).
public struct NodeFamily: Codable, Sendable, Equatable, Identifiable {
    public enum Kind: String, Codable, Sendable {
        /// Made by Numbat for nodes sharing a boot script; cannot deploy.
        case automatic
        /// Made by the user for deployment.
        case deployment
    }

    public var id: UUID
    public var name: String
    public var description: String
    public var kind: Kind
    /// For automatic families: the boot script (`Name Vsn`) that keys them.
    public var bootScript: String?
    /// How a bootstrap peer is picked among running members: `random` or `round_robin`.
    public var nodeSelection: String
    /// `distributed_erlang` or `custom`.
    public var bootstrapStrategy: String
    /// For `custom`: `{"cmd": "bin/bootstrap"}`.
    public var bootstrapStrategyOptions: [String: String]
    public var createdAt: Date
    public var deleted: Bool

    public init(id: UUID = UUID(), name: String, description: String = "", kind: Kind, bootScript: String? = nil,
                nodeSelection: String = "random", bootstrapStrategy: String = "distributed_erlang",
                bootstrapStrategyOptions: [String: String] = [:], createdAt: Date = Date(), deleted: Bool = false)
    {
        self.id = id
        self.name = name
        self.description = description
        self.kind = kind
        self.bootScript = bootScript
        self.nodeSelection = nodeSelection
        self.bootstrapStrategy = bootstrapStrategy
        self.bootstrapStrategyOptions = bootstrapStrategyOptions
        self.createdAt = createdAt
        self.deleted = deleted
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, kind, deleted
        case bootScript = "boot_script"
        case nodeSelection = "node_selection"
        case bootstrapStrategy = "bootstrap_strategy"
        case bootstrapStrategyOptions = "bootstrap_strategy_opts"
        case createdAt = "created_at"
    }
}
