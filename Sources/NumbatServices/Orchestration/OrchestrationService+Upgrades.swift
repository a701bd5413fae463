import Foundation
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

/// Rolling upgrades (issue 19 item 3): a new release rolled over a family's deployed nodes one
/// batch at a time, each node installed, switched (`NodeUpgrade`), checked, and on failure the
/// batch rolled back and the upgrade stopped. The order of things is `RollingUpgradePlan`'s;
/// this is its thin driver: it does what the plan says, stores the plan after every change and
/// publishes it (`upgrade_*` events on the `deployment` topic).
extension OrchestrationService {
    /// Checks the request and starts the upgrade in the background; returns its record at once.
    func startUpgrade(familyID: UUID, releaseID: UUID, batch: Int) async throws -> UpgradeRecord {
        let family = try await deploymentFamily(familyID)
        guard let release = try await records.load(ReleaseRecord.self, id: releaseID) else {
            throw NumbatError.notFound("release_not_found", "no release has id \(releaseID.uuidString.lowercased())")
        }
        if try await records.all(UpgradeRecord.self, parent: familyID).contains(where: { $0.plan.state == .running }) {
            throw NumbatError.conflict("upgrade_running", "\(family.name) is being upgraded already; wait until that upgrade ends")
        }
        let deployments = try await records.all(DeploymentRecord.self, parent: familyID).sorted { $0.createdAt < $1.createdAt }
        var nodes: [UUID] = []
        var from: [String: UUID] = [:]
        for deployment in deployments where deployment.releaseID != releaseID {
            let node = try await store.node(id: deployment.id)
            guard deployment.step == .done, let node, node.state == .up else {
                throw NumbatError.conflict("family_not_ready", "node \(node?.name ?? deployment.id.uuidString.lowercased()) of \(family.name) is \(node?.state.rawValue ?? "gone") (\(deployment.step.rawValue)): every node must be UP before a rolling upgrade")
            }
            if let running = try await records.load(ReleaseRecord.self, id: deployment.releaseID), running.releaseName != release.releaseName {
                throw NumbatError.conflict("release_mismatch", "\(node.name) runs release \(running.releaseName), not \(release.releaseName)")
            }
            nodes.append(deployment.id)
            from[deployment.id.uuidString.lowercased()] = deployment.releaseID
        }
        guard !nodes.isEmpty else {
            throw NumbatError.conflict("nothing_to_upgrade", "no node of \(family.name) runs another release than \(release.name) \(release.version)")
        }
        guard (1...nodes.count).contains(batch) else {
            throw NumbatError.invalidField("batch", "must be 1 to \(nodes.count) (the nodes to upgrade)")
        }
        let now = Date()
        let record = UpgradeRecord(id: UUID(), familyID: familyID, releaseID: releaseID, version: release.version,
                                   plan: RollingUpgradePlan(nodes: nodes, batchSize: batch), fromReleases: from, runner: me,
                                   createdAt: now, updatedAt: now)
        try await records.save(record)
        logger.info("rolling upgrade", metadata: ["family": "\(family.name)", "release": "\(release.name) \(release.version)", "nodes": "\(nodes.count)", "batch": "\(batch)"])
        launch(record)
        return record
    }

    /// Upgrades left running by a server that stopped (this one, or one no longer alive): the
    /// nodes in flight are failed and rolled back, so none stays half-switched.
    func resumeUpgrades() async throws {
        for var record in try await records.all(UpgradeRecord.self) where record.plan.state == .running {
            // Another server's upgrade is its own while it lives (a cluster); a runner that is
            // gone (or this server under another name) leaves it to whoever starts next.
            if let runner = record.runner, runner != me, await isAlive(runner) { continue }
            record.plan.interrupted("the server running the upgrade stopped")
            record.runner = me
            try await records.save(record)
            launch(record)
        }
    }

    private func launch(_ record: UpgradeRecord) {
        let run = UpgradeRun(service: self, record: record)
        let task = Task { await run.drive() }
        upgrades.withLockedValue { $0[record.id] = task }
    }

    func upgradeResponse(_ record: UpgradeRecord) async throws -> UpgradeResponse {
        var names: [UUID: String] = [:]
        for node in record.plan.nodes {
            names[node.id] = try await store.node(id: node.id)?.name
        }
        return record.response(names: names)
    }
}

/// One upgrade being driven: the record (the plan inside) is this actor's, so the nodes of a
/// batch report from their own tasks.
actor UpgradeRun {
    let service: OrchestrationService
    private(set) var record: UpgradeRecord
    /// The nodes' names, for progress events.
    private var names: [UUID: String] = [:]

    init(service: OrchestrationService, record: UpgradeRecord) {
        self.service = service
        self.record = record
    }

    func drive() async {
        defer { service.upgrades.withLockedValue { $0[record.id] = nil } }
        do {
            guard let release = try await service.records.load(ReleaseRecord.self, id: record.releaseID) else {
                throw NumbatError.notFound("release_not_found", "the release of the upgrade is gone")
            }
            for node in record.plan.nodes { names[node.id] = try? await service.store.node(id: node.id)?.name }
            publishState()
            while !Task.isCancelled {
                let action = record.plan.next()
                await save()
                switch action {
                case .upgrade(let ids):
                    var upgrades: [NodeUpgrade] = []
                    for id in ids { upgrades.append(try await nodeUpgrade(id, to: release)) }
                    await withTaskGroup(of: Void.self) { group in
                        for upgrade in upgrades {
                            group.addTask {
                                do {
                                    try await upgrade.run { event in await self.report(upgrade.nodeID, event) }
                                    await self.report(upgrade.nodeID, .phase(.upgraded))
                                } catch {
                                    // Cut short by the server stopping: left in flight, for
                                    // the next start to roll back (`interrupted`).
                                    if Task.isCancelled { return }
                                    await self.report(upgrade.nodeID, .failed(NodeDeployment.describe(error)))
                                }
                            }
                        }
                    }
                    if Task.isCancelled { break }
                    if record.plan.reason == nil {
                        for upgrade in upgrades { await upgrade.dropBackup() }
                    }
                case .rollBack(let ids):
                    await withTaskGroup(of: Void.self) { group in
                        for id in ids {
                            group.addTask { await self.rollBack(id) }
                        }
                    }
                case .finish(let state):
                    if state == .succeeded, var plan = try await service.records.load(FamilyPlan.self, id: record.familyID) {
                        // New nodes of the family get the release the others now run.
                        plan.releaseID = record.releaseID
                        try await service.records.save(plan)
                    }
                    record.runner = nil
                    await save()
                    publishState()
                    service.logger.info("rolling upgrade ended", metadata: ["upgrade": "\(record.id)", "state": "\(state.rawValue)", "reason": "\(record.plan.reason ?? "")"])
                    return
                }
            }
            // Stopped with the server: left running, for the next start to roll the batch back.
            record.runner = nil
            await save()
        } catch {
            service.logger.error("rolling upgrade stopped", metadata: ["upgrade": "\(record.id)", "error": "\(error)"])
        }
    }

    private func nodeUpgrade(_ id: UUID, to release: ReleaseRecord) async throws -> NodeUpgrade {
        let current = try await service.deployed(id)
        let target = NodeDeployment(service: service, nodeID: id, family: current.family, domain: current.domain, provider: current.provider, release: release)
        return NodeUpgrade(service: service, current: current, target: target)
    }

    private func rollBack(_ id: UUID) async {
        let failedIn = record.plan.node(id)?.failedIn
        do {
            guard let fromID = record.fromRelease(id), let from = try await service.records.load(ReleaseRecord.self, id: fromID) else {
                throw NumbatError(.internalError, "release_gone", "the release the node ran before is gone")
            }
            // The node's deployment as it is now (possibly on the new release already).
            let current = try await service.deployed(id)
            let previous = NodeDeployment(service: service, nodeID: id, family: current.family, domain: current.domain, provider: current.provider, release: from)
            publish(id, .rollingBack)
            try await NodeUpgrade(service: service, current: previous, target: previous).rollBack(to: from, failedIn: failedIn)
            await report(id, .rolledBack)
        } catch {
            if Task.isCancelled { return }
            await report(id, .rollbackFailed(NodeDeployment.describe(error)))
        }
    }

    func report(_ id: UUID, _ event: RollingUpgradePlan.Event) async {
        record.plan.record(id, event)
        if let node = record.plan.node(id) { publish(id, node.phase, message: node.message) }
        await save()
    }

    private func publish(_ node: UUID?, _ phase: RollingUpgradePlan.Phase, message: String? = nil) {
        service.context.bus.publish(.upgrade(UpgradeProgress(upgradeID: record.id, familyID: record.familyID, nodeID: node, nodeName: node.flatMap { names[$0] },
                                                             phase: phase.rawValue, message: message)))
    }

    private func save() async {
        record.updatedAt = Date()
        let snapshot = record
        do {
            // In a task of its own, which the server stopping does not cancel: the record
            // must say where the upgrade stopped (and that this server let go of it).
            let records = service.records
            try await Task { try await records.save(snapshot) }.value
        } catch {
            service.logger.warning("upgrade record not saved", metadata: ["upgrade": "\(snapshot.id)", "error": "\(error)"])
        }
    }

    /// The whole upgrade's state, on the WebSocket.
    private func publishState() {
        service.context.bus.publish(.upgrade(UpgradeProgress(upgradeID: record.id, familyID: record.familyID, phase: record.plan.state.rawValue,
                                                             message: record.plan.reason)))
    }
}
