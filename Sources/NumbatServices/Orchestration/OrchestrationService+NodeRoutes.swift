import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `/api/orch/node_families/{id}/nodes` and `/api/orch/nodes/{id}`: deploying nodes (seed
/// listing 10) and the deployed nodes' actions start, stop, restart and delete.
extension OrchestrationService {
    func addNodeRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("orch/node_families/:id/nodes") { request, context -> EditedResponse<DeployResponse> in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            let body = try await request.decodeStrict(as: DeployRequest.self, context: context)
            let nodes = try await self.deploy(familyID: id, providerID: body.provider, amount: body.amount, autostart: body.autostart)
            return EditedResponse(status: .accepted, response: DeployResponse(nodes: nodes))
        }
        api.get("orch/node_families/:id/nodes") { _, context -> ListResponse<DeployedNodeResponse> in
            let id = try context.parameters.require("id", as: UUID.self)
            var views: [DeployedNodeResponse] = []
            for record in try await self.records.all(DeploymentRecord.self, parent: id) {
                views.append(record.response(node: try await self.store.node(id: record.id)))
            }
            return ListResponse(items: views)
        }
        api.get("orch/nodes/:id") { _, context -> DeployedNodeResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            guard let record = try await self.records.load(DeploymentRecord.self, id: id) else {
                throw NumbatError.notFound("deployment_not_found", "node \(id.uuidString.lowercased()) was not deployed by Numbat")
            }
            return record.response(node: try await self.store.node(id: id))
        }
        for action in ["start", "stop", "restart"] {
            api.post("orch/nodes/:id/\(action)") { _, context -> DeployedNodeResponse in
                try context.requireAdmin()
                let id = try context.parameters.require("id", as: UUID.self)
                if action != "start" { try await self.stopNode(id) }
                if action != "stop" { try await self.startNode(id) }
                guard let record = try await self.records.load(DeploymentRecord.self, id: id) else {
                    throw NumbatError.notFound("deployment_not_found", "node \(id.uuidString.lowercased()) was deleted meanwhile")
                }
                return record.response(node: try await self.store.node(id: id))
            }
        }
        api.delete("orch/nodes/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteNode(context.parameters.require("id", as: UUID.self))
            return .noContent
        }
    }
}

extension DeploymentRecord {
    /// The deployment as the API shows it, with the managed node's name and state: never the
    /// host key.
    func response(node: ManagedNode?) -> DeployedNodeResponse {
        DeployedNodeResponse(id: id, familyID: familyID, domainID: domainID, providerID: providerID, releaseID: releaseID, instanceID: instanceID,
                             address: address, sshPort: sshPort, directory: directory, step: step, message: message, createdAt: createdAt,
                             name: node?.name, status: node?.state ?? .error, lastError: node?.lastError)
    }
}
