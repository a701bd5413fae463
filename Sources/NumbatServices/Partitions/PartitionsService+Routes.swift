import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

extension PartitionsService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("topo/node_families/:id/connectivity") { _, context -> FamilyConnectivityResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            guard let family = try await self.store.family(id: id), !family.deleted else {
                throw NumbatError.notFound("family_not_found", "no node family has id \(id.uuidString.lowercased())")
            }
            return try await self.connectivity(of: family)
        }
    }
}

extension FamilyConnectivityResponse: ResponseEncodable {}
