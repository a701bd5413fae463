import Foundation
import NumbatCore
import NumbatProviders

/// Deploying nodes into a family, and the node actions start, stop, restart and delete.
extension OrchestrationService {
    /// Creates `amount` UNINIT nodes in the family's domain on `providerID` (nil: spread over
    /// the family's domains, `DomainSpread`) and deploys them in the background (bounded by
    /// `Settings.concurrency`); returns their ids at once.
    func deploy(familyID: UUID, providerID: UUID?, amount: Int, autostart: Bool) async throws -> [UUID] {
        let family = try await deploymentFamily(familyID)
        guard (1...1000).contains(amount) else { throw NumbatError.badRequest("invalid_amount", "amount must be 1 to 1000") }
        guard let plan = try await records.load(FamilyPlan.self, id: familyID), let releaseID = plan.releaseID,
              let release = try await records.load(ReleaseRecord.self, id: releaseID) else {
            throw NumbatError.conflict("family_has_no_release", "\(family.name) has no release; set one with POST /api/orch/node_families/{id}/release")
        }
        let domains = try await records.all(DomainRecord.self, parent: familyID).sorted { $0.createdAt < $1.createdAt }
        let placed: [DomainRecord]
        if let providerID {
            guard let domain = domains.first(where: { $0.providerID == providerID }) else {
                throw NumbatError.badRequest("no_domain_for_provider", "\(family.name) has no domain on provider \(providerID.uuidString.lowercased()); add one with POST /api/orch/node_families/{id}/domains")
            }
            placed = Array(repeating: domain, count: amount)
        } else {
            guard !domains.isEmpty else {
                throw NumbatError.badRequest("family_has_no_domain", "\(family.name) has no domain to deploy to; add one with POST /api/orch/node_families/{id}/domains")
            }
            let existing = try await records.all(DeploymentRecord.self, parent: familyID)
            var spread = DomainSpread(domains: domains.map(\.id), deployed: Dictionary(grouping: existing, by: \.domainID).mapValues(\.count),
                                      strategy: family.nodeSelection)
            var random = SystemRandomNumberGenerator()
            let byID = Dictionary(uniqueKeysWithValues: domains.map { ($0.id, $0) })
            placed = spread.place(amount, random: &random).compactMap { byID[$0] }
        }
        var providers: [UUID: ProviderRecord] = [:]
        for providerID in Set(placed.map(\.providerID)) {
            guard let provider = try await records.load(ProviderRecord.self, id: providerID) else {
                throw NumbatError.badRequest("no_domain_for_provider", "provider \(providerID.uuidString.lowercased()) of \(family.name)'s domain is gone")
            }
            if provider.kind == .openstack || provider.kind == .libcloud { _ = try await self.provider(provider) }
            providers[providerID] = provider
        }
        let cookie = try await records.secrets(of: ReleaseRecord.self, id: release.id)["cookie"] ?? ""
        // Every node and its first record are stored before any deployment starts: a store that
        // fails half-way takes back what this request stored, so the error it answers leaves no
        // node nobody deploys and no deployment nobody asked for.
        var planned: [(NodeDeployment, DeploymentRecord)] = []
        var added: [UUID] = []
        do {
            for domain in placed {
                let id = UUID()
                _ = try await context.nodes.addPlanned(id: id, familyID: familyID, cookie: cookie)
                added.append(id)
                let deployment = NodeDeployment(service: self, nodeID: id, family: family, domain: domain, provider: providers[domain.providerID]!, release: release)
                let record = deployment.planned(autostart: autostart)
                try await records.save(record)
                planned.append((deployment, record))
            }
        } catch {
            await forgetPlanned(added, after: error)
            throw error
        }
        for (deployment, record) in planned {
            track(deployment.nodeID) { [limit] in
                await limit.run { await deployment.run(planned: record) }
            }
        }
        logger.info("deploying", metadata: ["family": "\(family.name)", "providers": "\(providers.values.map(\.name).sorted())", "amount": "\(amount)"])
        return added
    }

    /// Takes back the nodes and first records of a deployment request that failed before it
    /// started any of them. What cannot be taken back (the store is gone) is logged by id.
    private func forgetPlanned(_ ids: [UUID], after error: any Error) async {
        for id in ids {
            do {
                try await records.delete(DeploymentRecord.self, id: id)
                try await context.nodes.remove(id)
            } catch let undo {
                logger.error("a planned node of a failed deployment request is left; remove it with DELETE /api/topo/nodes/{id}",
                             metadata: ["node": "\(id)", "error": "\(undo)", "request_error": "\(error)"])
            }
        }
    }

    /// A deployed node's deployment, with everything an action needs.
    func deployed(_ nodeID: UUID) async throws -> NodeDeployment {
        guard let record = try await records.load(DeploymentRecord.self, id: nodeID) else {
            throw NumbatError.notFound("deployment_not_found", "node \(nodeID.uuidString.lowercased()) was not deployed by Numbat")
        }
        guard let family = try await store.family(id: record.familyID),
              let domain = try await records.load(DomainRecord.self, id: record.domainID),
              let provider = try await records.load(ProviderRecord.self, id: record.providerID),
              let release = try await records.load(ReleaseRecord.self, id: record.releaseID) else {
            throw NumbatError(.internalError, "deployment_damaged", "the records of node \(nodeID.uuidString.lowercased()) are incomplete")
        }
        return NodeDeployment(service: self, nodeID: nodeID, family: family, domain: domain, provider: provider, release: release)
    }

    /// Runs the stop command; the node manager lets go of the node, which stays STOPPED. A stop
    /// that fails is recorded as failed (the node managed again, as it still runs), so the
    /// action never stays in `stopping`, where another server would wait for it.
    func stopNode(_ nodeID: UUID) async throws {
        let deployment = try await deployed(nodeID)
        guard var record = try await records.load(DeploymentRecord.self, id: nodeID), record.address != nil else {
            throw NumbatError.conflict("node_not_deployed", "the node has no host yet")
        }
        let state = try await store.node(id: nodeID)?.state ?? .down
        await deployment.progress(&record, .stopping, state)
        var unmanaged = false
        do {
            let ssh = try await deployment.connect(&record)
            defer { Task { await ssh.close() } }
            await context.nodes.unmanage(nodeID)
            unmanaged = true
            try await ssh.check("cd \(ShellQuote.quote(deployment.directory)) && \(try await deployment.environment(name: fullName(nodeID))) \(deployment.release.stopCommand)",
                                doing: "the stop command (\(deployment.release.stopCommand))")
        } catch {
            if unmanaged, state == .up || state == .down { try? await context.nodes.manage(nodeID) }
            await deployment.progress(&record, .failed, state, message: "stopping: \(NodeDeployment.describe(error))")
            throw error
        }
        await deployment.progress(&record, .stopped, .stopped)
    }

    /// Runs the start command and joins the node to its family again.
    func startNode(_ nodeID: UUID) async throws {
        let deployment = try await deployed(nodeID)
        guard var record = try await records.load(DeploymentRecord.self, id: nodeID), record.address != nil else {
            throw NumbatError.conflict("node_not_deployed", "the node has no host yet")
        }
        guard let node = try await store.node(id: nodeID), node.state == .stopped || node.state == .down || node.state == .error else {
            throw NumbatError.conflict("node_running", "the node is UP; stop it first, or restart it")
        }
        let ssh = try await deployment.connect(&record)
        defer { Task { await ssh.close() } }
        await deployment.progress(&record, .starting, .stopped)
        do {
            try await deployment.startAndJoin(ssh, deployment: &record)
        } catch {
            await context.nodes.unmanage(nodeID)
            await deployment.progress(&record, .failed, .error, message: "\(record.step.rawValue): \(NodeDeployment.describe(error))")
            throw error
        }
    }

    /// Stops the node (if it runs), removes it from its host, destroys its instance and forgets
    /// it; a deployment still running for it is stopped first.
    func deleteNode(_ nodeID: UUID) async throws {
        let running = self.running.withLockedValue { $0[nodeID]?.task }
        running?.cancel()
        await running?.value
        try await removeDeployed(nodeID)
    }

    /// The delete itself (also how a delete cut short is finished). One that fails is recorded
    /// as failed, so it never stays in `deleting`; deleting again finishes it.
    func removeDeployed(_ nodeID: UUID) async throws {
        let deployment = try await deployed(nodeID)
        guard var record = try await records.load(DeploymentRecord.self, id: nodeID) else { return }
        await context.nodes.unmanage(nodeID)
        let state = try await store.node(id: nodeID)?.state ?? .stopped
        await deployment.progress(&record, .deleting, state)
        do {
            if record.address != nil, record.instanceID != nil || deployment.provider.kind == .physical {
                if let ssh = try? await deployment.connect(&record) {
                    _ = try? await ssh.run("cd \(ShellQuote.quote(deployment.directory)) && \(try await deployment.environment(name: fullName(nodeID))) \(deployment.release.stopCommand)", timeout: .seconds(60))
                    await ssh.close()
                }
                await deployment.removeDirectory(record)
            }
            if let instance = record.instanceID, deployment.provider.kind != .physical {
                try await provider(deployment.provider).destroyInstance(id: instance)
            }
            try await records.delete(DeploymentRecord.self, id: nodeID)
        } catch {
            await deployment.progress(&record, .failed, state, message: "deleting: \(NodeDeployment.describe(error))")
            throw error
        }
        publish(DeploymentProgress(nodeID: nodeID, familyID: record.familyID, step: .deleted, state: .stopped, nodeName: try await store.node(id: nodeID)?.name))
        // The node manager deletes the row and publishes nodeRemoved; a row already gone (the
        // node removed through the topology API) is no reason to fail.
        if try await store.node(id: nodeID) != nil {
            try await context.nodes.remove(nodeID)
        }
    }

    private func nodeName(_ nodeID: UUID) -> String {
        nodeID.uuidString.lowercased()
    }

    private func fullName(_ nodeID: UUID) async throws -> String {
        try await store.node(id: nodeID)?.name ?? nodeName(nodeID)
    }
}
