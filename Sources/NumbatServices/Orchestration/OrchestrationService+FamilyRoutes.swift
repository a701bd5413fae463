import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore
import NumbatProviders

/// `/api/orch/node_families/{id}`: what orchestration adds to a deployment family (seed 4.1.3,
/// listing 9): its release, firewall rules and domains, and deleting it with them.
extension OrchestrationService {
    func addFamilyRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("orch/node_families/:id") { _, context -> FamilyPlanResponse in
            try await self.familyView(context.parameters.require("id", as: UUID.self))
        }
        api.post("orch/node_families/:id/release") { request, context -> FamilyPlanResponse in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            _ = try await self.deploymentFamily(id)
            let body = try await request.decodeStrict(as: SetFamilyReleaseRequest.self, context: context)
            _ = try await self.requireRelease(body.release)
            var plan = try await self.plan(for: id)
            plan.releaseID = body.release
            try await self.records.save(plan)
            return try await self.familyView(id)
        }
        api.post("orch/node_families/:id/firewall") { request, context -> FamilyPlanResponse in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            _ = try await self.deploymentFamily(id)
            var plan = try await self.plan(for: id)
            plan.firewall = try Self.firewallRules(try await request.body.collect(upTo: context.maxUploadSize))
            if try await !self.records.all(DomainRecord.self, parent: id).isEmpty {
                throw NumbatError.conflict("family_has_domains", "set the firewall rules before adding domains: the clouds' security groups are made from them")
            }
            try await self.records.save(plan)
            return try await self.familyView(id)
        }
        api.post("orch/node_families/:id/domains") { request, context -> EditedResponse<DomainResponse> in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            let body = try await request.decodeStrict(as: AddDomainRequest.self, context: context)
            return EditedResponse(status: .created, response: try await self.addDomain(familyID: id, body).response)
        }
        api.delete("orch/node_families/:id/domains/:domain") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteDomain(familyID: context.parameters.require("id", as: UUID.self), domainID: context.parameters.require("domain", as: UUID.self))
            return .noContent
        }
        api.delete("orch/node_families/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            try await self.deleteFamily(context.parameters.require("id", as: UUID.self))
            return .noContent
        }
    }

    /// Firewall rules as the seed sends them: a JSON list, port numbers as strings or numbers.
    static func firewallRules(_ body: ByteBuffer) throws -> [FirewallRule] {
        let rules = try decodeBody([FirewallRuleBody].self, from: Data(body.readableBytesView))
        for rule in rules { try rule.validate() }
        return rules.map { FirewallRule(ipProtocol: $0.ipProtocol, portFrom: $0.portFrom, portTo: $0.portTo, source: $0.source) }
    }

    func addDomain(familyID: UUID, _ request: AddDomainRequest) async throws -> DomainRecord {
        let family = try await deploymentFamily(familyID)
        let provider = try await requireProvider(request.provider)
        if let type = request.type, (type == "physical") != (provider.kind == .physical) {
            throw NumbatError.invalidField("type", "is \(type), but \(provider.name) is a \(provider.kind == .physical ? "physical" : "virtual") provider")
        }
        if try await records.all(DomainRecord.self, parent: familyID).contains(where: { $0.providerID == provider.id }) {
            throw NumbatError.conflict("domain_exists", "\(family.name) already has a domain on \(provider.name)")
        }
        let plan = try await plan(for: familyID)
        var domain = DomainRecord(id: UUID(), familyID: familyID, providerID: provider.id, sshUser: request.sshUser,
                                  vdisk: request.vdisk, hwProfile: request.hwProfile, createdAt: Date())
        if provider.kind != .physical {
            // The family's key pair and security group, named after the family (seed 4.1.3).
            let cloud = try await self.provider(provider)
            let name = "numbat-\(familyID.uuidString.lowercased())"
            var warnings: [String] = []
            do {
                do {
                    try await cloud.importKeyPair(name: name, publicKey: plan.publicKey.split(separator: " ").prefix(2).joined(separator: " "))
                    domain.keyName = name
                } catch let error as ProviderError where error.code == "not_supported" {
                    warnings.append("key pair not imported (\(error.message)): the image must let \(request.sshUser) in with the family's key")
                }
                do {
                    domain.securityGroupID = try await cloud.createSecurityGroup(name: name, description: "Numbat family \(family.name)", rules: plan.firewall)
                } catch let error as ProviderError where error.code == "not_supported" {
                    warnings.append("firewall not applied (\(error.message))")
                }
                domain.warnings = warnings.isEmpty ? nil : warnings
            } catch {
                if domain.keyName != nil { try? await cloud.deleteKeyPair(name: name) }
                throw NumbatError(.unavailable, "provider_failed", "\(provider.name): \(NodeDeployment.describe(error))")
            }
        }
        try await records.save(domain)
        return domain
    }

    func deleteDomain(familyID: UUID, domainID: UUID) async throws {
        guard let domain = try await records.load(DomainRecord.self, id: domainID), domain.familyID == familyID else {
            throw NumbatError.notFound("domain_not_found", "the family has no domain \(domainID.uuidString.lowercased())")
        }
        if try await records.all(DeploymentRecord.self, parent: familyID).contains(where: { $0.domainID == domainID }) {
            throw NumbatError.conflict("domain_has_nodes", "the domain still has nodes; delete them first")
        }
        if let provider = try await records.load(ProviderRecord.self, id: domain.providerID), provider.kind != .physical {
            let cloud = try await self.provider(provider)
            do {
                if let group = domain.securityGroupID { try await cloud.deleteSecurityGroup(id: group) }
                if let key = domain.keyName { try await cloud.deleteKeyPair(name: key) }
            } catch {
                throw NumbatError(.unavailable, "provider_failed", "\(provider.name) did not remove the family's key or security group: \(NodeDeployment.describe(error))")
            }
        }
        try await records.delete(DomainRecord.self, id: domainID)
    }

    /// Deletes a family with no nodes: its domains (and what they made on clouds), its plan,
    /// and the family itself.
    func deleteFamily(_ id: UUID) async throws {
        let family = try await deploymentFamily(id)
        try await removeDeploymentPlan(of: family)
        _ = try await store.deleteFamily(id: id)
        context.bus.publish(.familyRemoved(id: id, name: family.name))
    }

    /// Before any route deletes a deployment family: its domains (and what they made on the
    /// providers) and its plan go first; a family with nodes stays, whole.
    func removeDeploymentPlan(of family: NodeFamily) async throws {
        let members = try await store.nodes().filter { $0.familyID == family.id }
        guard members.isEmpty else {
            throw NumbatError.conflict("family_not_empty", "\(family.name) still has \(members.count) node(s); delete them first")
        }
        for domain in try await records.all(DomainRecord.self, parent: family.id) {
            try await deleteDomain(familyID: family.id, domainID: domain.id)
        }
        try await records.delete(FamilyPlan.self, id: family.id)
    }

    func familyView(_ id: UUID) async throws -> FamilyPlanResponse {
        let family = try await deploymentFamily(id)
        let plan = try await plan(for: id)
        return FamilyPlanResponse(id: id, name: family.name, release: plan.releaseID,
                                  firewall: plan.firewall.map { FirewallRuleBody(ipProtocol: $0.ipProtocol, portFrom: $0.portFrom, portTo: $0.portTo, source: $0.source) },
                                  publicKey: plan.publicKey, domains: try await records.all(DomainRecord.self, parent: id).map(\.response),
                                  nodes: try await records.all(DeploymentRecord.self, parent: id).map(\.id))
    }
}
