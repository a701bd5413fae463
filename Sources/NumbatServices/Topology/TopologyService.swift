import Foundation
import Hummingbird
import NumbatCore

/// The topology service's REST routes (seed 4.2.1, listing 9).
public struct TopologyService: NumbatService {
    public let name = "topology"
    public let topology: Topology
    let familyDeletion: FamilyDeletionHooks

    public init(context: ServiceContext) {
        topology = Topology(store: context.store, nodes: context.nodes, bus: context.bus, logger: context.logger)
        familyDeletion = context.familyDeletion
    }

    /// `POST /api/actions/add-node`.
    struct AddNodeRequest: StrictJSONBody {
        var node: String
        var cookie: String
        var discover: Bool?
        static let allowedFields: Set<String> = ["node", "cookie", "discover"]
    }

    /// `POST /api/topo/node_families` (seed listing 9): options come as an object or, as in the
    /// seed, a list of one-key objects.
    struct CreateFamilyRequest: StrictJSONBody {
        var name: String
        var description: String?
        var bootstrapNodeSelection: String?
        var bootstrapStrategy: String?
        var bootstrapStrategyOptions: [String: String]?

        static let allowedFields: Set<String> = ["name", "description", "bootstrap_node_selection", "bootstrap_strategy", "bootstrap_strategy_opts"]

        enum CodingKeys: String, CodingKey {
            case name, description
            case bootstrapNodeSelection = "bootstrap_node_selection"
            case bootstrapStrategy = "bootstrap_strategy"
            case bootstrapStrategyOptions = "bootstrap_strategy_opts"
        }

        init(from decoder: any Decoder) throws {
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
    }

    struct NodeList: ResponseEncodable { var nodes: [ManagedNode] }
    struct FamilyList: ResponseEncodable { var families: [Topology.FamilyView] }

    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("actions/add-node") { request, context -> EditedResponse<Topology.AddResult> in
            let body = try await request.decodeStrict(as: AddNodeRequest.self, context: context)
            let result = try await topology.addNode(name: body.node, cookie: body.cookie, discover: body.discover ?? false)
            return EditedResponse(status: .created, response: result)
        }
        api.get("topo/nodes") { request, _ -> NodeList in
            var nodes = try await topology.allNodes()
            let query = request.uri.queryParameters
            if let state = query["state"].map(String.init) {
                guard let wanted = NodeState(rawValue: state.uppercased()) else {
                    throw NumbatError.badRequest("invalid_query", "state must be one of \(NodeState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                nodes = nodes.filter { $0.state == wanted }
            }
            if let family = query["family"].map(String.init) {
                guard let id = UUID(uuidString: family) else { throw NumbatError.badRequest("invalid_query", "family must be a UUID") }
                nodes = nodes.filter { $0.familyID == id }
            }
            return NodeList(nodes: nodes)
        }
        api.get("topo/nodes/:id") { _, context -> ManagedNode in
            try await topology.node(id: try context.parameters.require("id", as: UUID.self))
        }
        api.delete("topo/nodes/:id") { _, context -> ManagedNode in
            try await topology.removeNode(id: try context.parameters.require("id", as: UUID.self))
        }
        api.get("topo/node_families") { _, _ -> FamilyList in
            FamilyList(families: try await topology.families())
        }
        api.get("topo/node_families/:id") { _, context -> Topology.FamilyView in
            try await topology.family(id: try context.parameters.require("id", as: UUID.self))
        }
        api.post("topo/node_families") { request, context -> EditedResponse<Topology.FamilyView> in
            let body = try await request.decodeStrict(as: CreateFamilyRequest.self, context: context)
            let family = NodeFamily(name: body.name, description: body.description ?? "", kind: .deployment,
                                    nodeSelection: body.bootstrapNodeSelection ?? "random",
                                    bootstrapStrategy: body.bootstrapStrategy ?? "distributed_erlang",
                                    bootstrapStrategyOptions: body.bootstrapStrategyOptions ?? [:])
            return EditedResponse(status: .created, response: try await topology.createFamily(family))
        }
        api.delete("topo/node_families/:id") { _, context -> HTTPResponse.Status in
            let id = try context.parameters.require("id", as: UUID.self)
            try await familyDeletion.run(before: id)
            try await topology.deleteFamily(id: id)
            return .noContent
        }
        api.get("topo/graph") { _, _ -> Topology.Graph in
            try await topology.graph()
        }
    }
}

extension ManagedNode: ResponseEncodable {}
extension Topology.AddResult: ResponseEncodable {}
extension Topology.FamilyView: ResponseEncodable {}
extension Topology.Graph: ResponseEncodable {}
