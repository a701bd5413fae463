import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `/api/orch/node_families/{id}/upgrades` and `/api/orch/upgrades/{id}`: rolling upgrades.
extension OrchestrationService {
    func addUpgradeRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("orch/node_families/:id/upgrades") { request, context -> EditedResponse<UpgradeResponse> in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            let body = try await request.decodeStrict(as: StartUpgradeRequest.self, context: context)
            let record = try await self.startUpgrade(familyID: id, releaseID: body.release, batch: body.batch)
            return EditedResponse(status: .accepted, response: try await self.upgradeResponse(record))
        }
        api.get("orch/node_families/:id/upgrades") { _, context -> ListResponse<UpgradeResponse> in
            let id = try context.parameters.require("id", as: UUID.self)
            var items: [UpgradeResponse] = []
            for record in try await self.records.all(UpgradeRecord.self, parent: id).sorted(by: { $0.createdAt < $1.createdAt }) {
                items.append(try await self.upgradeResponse(record))
            }
            return ListResponse(items: items)
        }
        api.get("orch/upgrades/:id") { _, context -> UpgradeResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            guard let record = try await self.records.load(UpgradeRecord.self, id: id) else {
                throw NumbatError.notFound("upgrade_not_found", "no upgrade has id \(id.uuidString.lowercased())")
            }
            return try await self.upgradeResponse(record)
        }
    }
}

extension StartUpgradeRequest: StrictJSONBody {}
extension UpgradeResponse: ResponseEncodable {}
