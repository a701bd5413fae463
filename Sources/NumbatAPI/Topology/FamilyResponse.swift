import Foundation
import NumbatCore

/// A node family as `GET /api/topo/node_families/{id}` shows it (seed listing 9): the family
/// with the ids of its nodes. `neighbors` and `plugins_opts` are always empty; the seed's
/// clients expect them.
public struct FamilyResponse: Codable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var description: String
    public var kind: NodeFamily.Kind
    public var bootScript: String?
    public var nodeSelection: String
    public var bootstrapStrategy: String
    public var bootstrapStrategyOptions: [String: String]
    public var neighbors: [UUID]
    public var nodes: [UUID]
    public var pluginsOpts: [String]
    public var deleted: Bool
    /// Whether the family has TLS distribution settings (`PUT .../tls`); they are never shown.
    public var tls: Bool

    public init(_ family: NodeFamily, nodes: [UUID], tls: Bool = false) {
        id = family.id
        name = family.name
        description = family.description
        kind = family.kind
        bootScript = family.bootScript
        nodeSelection = family.nodeSelection
        bootstrapStrategy = family.bootstrapStrategy
        bootstrapStrategyOptions = family.bootstrapStrategyOptions
        neighbors = []
        self.nodes = nodes
        pluginsOpts = []
        deleted = family.deleted
        self.tls = tls
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, kind, neighbors, nodes, deleted, tls
        case bootScript = "boot_script"
        case nodeSelection = "node_selection"
        case bootstrapStrategy = "bootstrap_strategy"
        case bootstrapStrategyOptions = "bootstrap_strategy_opts"
        case pluginsOpts = "plugins_opts"
    }
}

/// `GET /api/topo/node_families`.
public struct FamilyListResponse: Codable, Sendable, Equatable {
    public var families: [FamilyResponse]

    public init(families: [FamilyResponse]) { self.families = families }
}

/// `POST /api/topo/node_families` (seed listing 9): a deployment family. The options come as
/// an object or, as in the seed, a list of one-key objects.
public struct CreateFamilyRequest: Codable, Sendable, Equatable {
    public var name: String
    public var description: String?
    /// `random` or `round_robin`: how a node to join is picked.
    public var bootstrapNodeSelection: String?
    /// `distributed_erlang`, or `custom` with `cmd` in the options.
    public var bootstrapStrategy: String?
    public var bootstrapStrategyOptions: [String: String]?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["name", "description", "bootstrap_node_selection", "bootstrap_strategy", "bootstrap_strategy_opts"]

    public init(name: String, description: String? = nil, bootstrapNodeSelection: String? = nil, bootstrapStrategy: String? = nil,
                bootstrapStrategyOptions: [String: String]? = nil)
    {
        self.name = name
        self.description = description
        self.bootstrapNodeSelection = bootstrapNodeSelection
        self.bootstrapStrategy = bootstrapStrategy
        self.bootstrapStrategyOptions = bootstrapStrategyOptions
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        bootstrapNodeSelection = try container.decodeIfPresent(String.self, forKey: .bootstrapNodeSelection)
        bootstrapStrategy = try container.decodeIfPresent(String.self, forKey: .bootstrapStrategy)
        if let list = try? container.decodeIfPresent([[String: String]].self, forKey: .bootstrapStrategyOptions) {
            bootstrapStrategyOptions = list.reduce(into: [:]) { $0.merge($1) { _, new in new } }
        } else {
            bootstrapStrategyOptions = try container.decodeIfPresent([String: String].self, forKey: .bootstrapStrategyOptions)
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, description
        case bootstrapNodeSelection = "bootstrap_node_selection"
        case bootstrapStrategy = "bootstrap_strategy"
        case bootstrapStrategyOptions = "bootstrap_strategy_opts"
    }
}
