import Foundation
import NumbatAPI
import NumbatCore

extension Topology {
    public func families() async throws -> [FamilyResponse] {
        let all = try await store.nodes()
        var answers: [FamilyResponse] = []
        for family in try await store.families() {
            answers.append(FamilyResponse(family, nodes: all.filter { $0.familyID == family.id }.map(\.id),
                                          tls: try await nodes.familyHasTLS(family.id)))
        }
        return answers
    }

    public func family(id: UUID) async throws -> FamilyResponse {
        guard let family = try await store.family(id: id), !family.deleted else {
            throw NumbatError.notFound("family_not_found", "no node family has id \(id.uuidString.lowercased())")
        }
        let members = try await store.nodes().filter { $0.familyID == id }.map(\.id)
        return FamilyResponse(family, nodes: members, tls: try await nodes.familyHasTLS(id))
    }

    /// Replaces the family's TLS distribution settings (nil: removes them); its nodes without
    /// settings of their own connect with them from their next connection.
    public func setTLS(_ tls: TLSCredentials?, forFamily id: UUID) async throws -> FamilyResponse {
        _ = try await family(id: id)
        try await nodes.setTLS(tls, forFamily: id)
        return try await family(id: id)
    }

    /// Creates a deployment family (seed listing 9).
    public func createFamily(_ family: NodeFamily) async throws -> FamilyResponse {
        guard !family.name.isBlank else {
            throw NumbatError.badRequest("invalid_family", "a node family needs a name")
        }
        guard ["random", "round_robin"].contains(family.nodeSelection) else {
            throw NumbatError.badRequest("invalid_family", "node selection must be random or round_robin, not \(family.nodeSelection)")
        }
        guard ["distributed_erlang", "custom"].contains(family.bootstrapStrategy) else {
            throw NumbatError.badRequest("invalid_family", "bootstrap strategy must be distributed_erlang or custom, not \(family.bootstrapStrategy)")
        }
        if family.bootstrapStrategy == "custom", family.bootstrapStrategyOptions["cmd"]?.isEmpty ?? true {
            throw NumbatError.badRequest("invalid_family", "the custom bootstrap strategy needs a cmd option, e.g. {\"cmd\": \"bin/bootstrap\"}")
        }
        try await store.insertFamily(family)
        bus.publish(.familyCreated(family))
        return FamilyResponse(family, nodes: [])
    }

    /// Deletes a family that has no nodes.
    public func deleteFamily(id: UUID) async throws {
        let view = try await family(id: id)
        guard view.nodes.isEmpty else {
            throw NumbatError.conflict("family_not_empty", "\(view.name) still has \(view.nodes.count) node(s); remove them first")
        }
        _ = try await store.deleteFamily(id: id)
        bus.publish(.familyRemoved(id: id, name: view.name))
    }
}
