import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `/api/orch/releases`: uploaded releases (seed listing 8); the upload itself is in
/// `OrchestrationService+Releases.swift`.
extension OrchestrationService {
    func addReleaseRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("orch/releases") { request, context -> EditedResponse<ReleaseResponse> in
            EditedResponse(status: .created, response: try await self.uploadRelease(request, context: context))
        }
        api.get("orch/releases") { _, _ -> ListResponse<ReleaseResponse> in
            ListResponse(items: try await self.records.all(ReleaseRecord.self).map(\.response))
        }
        api.get("orch/releases/:id") { _, context -> ReleaseResponse in
            try await self.requireRelease(context.parameters.require("id", as: UUID.self)).response
        }
        api.delete("orch/releases/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let release = try await self.requireRelease(context.parameters.require("id", as: UUID.self))
            if try await self.records.all(FamilyPlan.self).contains(where: { $0.releaseID == release.id }) {
                throw NumbatError.conflict("release_in_use", "\(release.name) is a family's release")
            }
            try await self.records.delete(ReleaseRecord.self, id: release.id)
            try? FileManager.default.removeItem(at: self.releaseDirectory.appendingPathComponent("\(release.id.uuidString.lowercased()).tar.gz"))
            return .noContent
        }
    }

    func requireRelease(_ id: UUID) async throws -> ReleaseRecord {
        guard let record = try await records.load(ReleaseRecord.self, id: id) else {
            throw NumbatError.notFound("release_not_found", "no release has id \(id.uuidString.lowercased())")
        }
        return record
    }
}
