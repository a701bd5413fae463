import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// The topology service's REST routes (seed 4.2.1, listing 9). Bodies and answers are
/// NumbatAPI's types, the ones the CLI sends and reads.
public struct TopologyService: NumbatService {
    public let name = "topology"
    public let topology: Topology
    let familyDeletion: FamilyDeletionHooks

    public init(context: ServiceContext) {
        topology = Topology(store: context.store, nodes: context.nodes, bus: context.bus, logger: context.logger)
        familyDeletion = context.familyDeletion
    }

    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("actions/add-node") { request, context -> EditedResponse<AddNodeResponse> in
            let body = try await request.decodeStrict(as: AddNodeRequest.self, context: context)
            let result = try await topology.addNode(name: body.node, port: body.port, cookie: body.cookie, tls: body.tls?.credentials,
                                                    discover: body.discover ?? false)
            return EditedResponse(status: .created, response: result)
        }
        api.get("topo/nodes") { request, _ -> NodeListResponse in
            try await nodeList({ request.uri.queryParameters[Substring($0)].map(String.init) })
        }
        api.get("topo/nodes/:id") { _, context -> ManagedNode in
            try await topology.node(id: try context.parameters.require("id", as: UUID.self))
        }
        api.delete("topo/nodes/:id") { _, context -> ManagedNode in
            try await topology.removeNode(id: try context.parameters.require("id", as: UUID.self))
        }
        api.put("topo/nodes/:id/tls") { request, context -> ManagedNode in
            let body = try await request.decodeStrict(as: TLSSettingsBody.self, context: context)
            return try await topology.setTLS(body.credentials, forNode: try context.parameters.require("id", as: UUID.self))
        }
        api.delete("topo/nodes/:id/tls") { _, context -> ManagedNode in
            try await topology.setTLS(nil, forNode: try context.parameters.require("id", as: UUID.self))
        }
        api.put("topo/node_families/:id/tls") { request, context -> FamilyResponse in
            let body = try await request.decodeStrict(as: TLSSettingsBody.self, context: context)
            return try await topology.setTLS(body.credentials, forFamily: try context.parameters.require("id", as: UUID.self))
        }
        api.delete("topo/node_families/:id/tls") { _, context -> FamilyResponse in
            try await topology.setTLS(nil, forFamily: try context.parameters.require("id", as: UUID.self))
        }
        api.get("topo/node_families") { _, _ -> FamilyListResponse in
            FamilyListResponse(families: try await topology.families())
        }
        api.get("topo/node_families/:id") { _, context -> FamilyResponse in
            try await topology.family(id: try context.parameters.require("id", as: UUID.self))
        }
        api.post("topo/node_families") { request, context -> EditedResponse<FamilyResponse> in
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
        api.get("topo/graph") { _, _ -> GraphResponse in
            try await topology.graph()
        }
    }
}

extension TopologyService {
    /// The managed nodes and their states, filtered by `state` and `family` when `parameter`
    /// gives them: the REST route's answer, and the MCP `nodes` tool's.
    public func nodeList(_ parameter: (String) -> String?) async throws -> NodeListResponse {
        var nodes = try await topology.allNodes()
        if let state = parameter("state") {
            guard let wanted = NodeState(rawValue: state.uppercased()) else {
                throw NumbatError.badRequest("invalid_query", "state must be one of \(NodeState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            nodes = nodes.filter { $0.state == wanted }
        }
        if let family = parameter("family") {
            guard let id = UUID(uuidString: family) else { throw NumbatError.badRequest("invalid_query", "family must be a UUID") }
            nodes = nodes.filter { $0.familyID == id }
        }
        return NodeListResponse(nodes: nodes)
    }
}

// NumbatAPI's types are the routes' bodies and answers; their `allowedFields` keep decoding strict.
extension AddNodeRequest: StrictJSONBody {}
extension TLSSettingsBody: StrictJSONBody {}
extension CreateFamilyRequest: StrictJSONBody {}
extension ManagedNode: ResponseEncodable {}
extension AddNodeResponse: ResponseEncodable {}
extension NodeListResponse: ResponseEncodable {}
extension FamilyResponse: ResponseEncodable {}
extension FamilyListResponse: ResponseEncodable {}
extension GraphResponse: ResponseEncodable {}
