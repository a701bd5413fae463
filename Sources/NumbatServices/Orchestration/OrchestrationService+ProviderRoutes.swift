import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore
import NumbatProviders

/// `/api/orch/providers`: infrastructure providers (seed listing 5), each kind's configuration
/// typed (NumbatAPI's `ProviderSettings`), its secret sealed and never answered.
extension OrchestrationService {
    func addProviderRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("orch/providers") { request, context -> EditedResponse<ProviderResponse> in
            try context.requireAdmin()
            let body = try await request.decodeStrict(as: CreateProviderRequest.self, context: context)
            return EditedResponse(status: .created, response: try await self.createProvider(body))
        }
        api.get("orch/providers") { _, _ -> ListResponse<ProviderResponse> in
            ListResponse(items: try await self.records.all(ProviderRecord.self).map(\.response))
        }
        api.get("orch/providers/:id") { _, context -> ProviderResponse in
            try await self.requireProvider(context.parameters.require("id", as: UUID.self)).response
        }
        api.get("orch/providers/:id/images") { _, context -> ListResponse<ProviderOfferingResponse> in
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            return ListResponse(items: try await self.offering { try await self.provider(record).images() })
        }
        api.get("orch/providers/:id/sizes") { _, context -> ListResponse<ProviderOfferingResponse> in
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            return ListResponse(items: try await self.offering { try await self.provider(record).sizes() })
        }
        api.delete("orch/providers/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let record = try await self.requireProvider(context.parameters.require("id", as: UUID.self))
            if try await self.records.all(DomainRecord.self).contains(where: { $0.providerID == record.id }) {
                throw NumbatError.conflict("provider_in_use", "\(record.name) is used by a family's domain; delete the domain first")
            }
            try await self.records.delete(ProviderRecord.self, id: record.id)
            await self.closeBridge(of: record.id)
            return .noContent
        }
    }

    /// Validates the request, lets its kind ready it (a key made, credentials proven), then
    /// stores the configuration and seals the secret.
    func createProvider(_ request: CreateProviderRequest) async throws -> ProviderResponse {
        try request.validate()
        let id = UUID()
        var settings = request.configuration.building
        var secret = request.secret
        try await settings.prepare(id: id, secret: &secret, service: self)
        let record = ProviderRecord(id: id, name: request.name, createdAt: Date(), configuration: settings.configuration)
        try await records.save(record)
        let field = type(of: settings).secretField
        try await records.setSecrets(of: ProviderRecord.self, id: id, secret.map { [field: $0] } ?? [:])
        return record.response
    }

    func requireProvider(_ id: UUID) async throws -> ProviderRecord {
        guard let record = try await records.load(ProviderRecord.self, id: id) else {
            throw NumbatError.notFound("provider_not_found", "no provider has id \(id.uuidString.lowercased())")
        }
        return record
    }

    private func offering(_ body: () async throws -> [ProviderOffering]) async throws -> [ProviderOfferingResponse] {
        do { return try await body().map { ProviderOfferingResponse(id: $0.id, name: $0.name) } } catch let error as ProviderError {
            throw NumbatError(.unavailable, "provider_failed", error.description)
        }
    }
}
