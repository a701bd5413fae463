import Foundation
import NumbatCore

/// Deployments and node actions as work that belongs to the server holding the node (issue 13;
/// `NodeJobs`). A job follows its node's lease:
///
/// - The server that loses a node (handed over to a server that joined, leases lost to a cut
///   from the database, a clean stop) lets the job run on to its next safe point and stops
///   there, recording the step to go on from and no runner. The safe points are the step
///   boundaries after the release archive is on the host (a server of the cluster keeps the
///   archives uploaded to it, so the server uploading finishes the upload) and the wait for the
///   node to come UP; a stop of the server cancels the job at once instead.
/// - The server that takes the node (adopt, or a lone server's start) resumes an unsettled job
///   once its runner has let go or is dead: a server of the cluster whose heartbeat is a lease
///   period older than the newest one. It resumes rather than fails, because every step is
///   safe to run again: a cloud instance is looked up by its recorded id (and clouds find a
///   launch retried by name), the upload is skipped when the host has the archive and written
///   under a temporary name, unpacking starts from an empty directory, a start command run
///   twice leaves one node running (a second node of the same name cannot register), and
///   connecting, waiting for UP and joining the family can be repeated. A resumed deployment
///   that still fails (the host is gone, the archive is only on a dead server) fails as any
///   deployment does: the node is ERROR with the reason, naming the server it was resumed
///   after, and whatever the deployment made is removed (a cloud instance terminated, a node
///   started on a host stopped, its directory deleted), so nothing is left that no one manages.
///
/// The record's `runner` is how a job's next holder knows the previous one stopped: it is set
/// by every recorded step and cleared when the job settles or leaves.
extension OrchestrationService: NodeJobs {
    /// One node's running work.
    struct Job: Sendable {
        var task: Task<Void, Never>
        /// The node was handed over: stop at the next safe point.
        var handedOver = false
        /// The job saw `handedOver` at a safe point and is stopping.
        var leaving = false
    }

    /// This server's name as a job's `runner`: its hidden node's name, which its cluster
    /// heartbeat carries too.
    var me: String { context.nodes.local.name.description }

    public var runningNodes: Set<UUID> {
        running.withLockedValue { Set($0.filter { !$0.value.handedOver }.keys) }
    }

    public func handOver(_ ids: [UUID]) {
        let handed = running.withLockedValue { jobs -> [UUID] in
            ids.filter { id in
                guard jobs[id] != nil else { return false }
                jobs[id]?.handedOver = true
                return true
            }
        }
        if !handed.isEmpty { logger.info("handing over deployments at their next safe point", metadata: ["nodes": "\(handed.count)"]) }
    }

    public func takeOver(_ ids: [UUID]) async {
        // One read for a whole takeover (a failover hands over many nodes, few with a job);
        // should it fail, each job reads its own record.
        let unsettled = try? Set(await records.all(DeploymentRecord.self).filter { !$0.step.isSettled }.map(\.id))
        for id in ids where unsettled?.contains(id) ?? true {
            enum Here { case none, goingOn, leaving(Task<Void, Never>) }
            let here = running.withLockedValue { jobs -> Here in
                guard let job = jobs[id] else { return .none }
                guard job.leaving else {
                    // Back before its job here reached a safe point: it goes on here.
                    jobs[id]?.handedOver = false
                    return .goingOn
                }
                return .leaving(job.task)
            }
            switch here {
            case .goingOn: continue
            case .none: track(id) { [self] in await resume(id) }
            case .leaving(let previous): track(id) { [self] in
                await previous.value
                await resume(id)
            }
            }
        }
    }

    /// Registers a node's running work so deletes, shutdown and hand-overs reach it.
    func track(_ nodeID: UUID, _ work: @escaping @Sendable () async -> Void) {
        let task = Task { await work() }
        running.withLockedValue { $0[nodeID] = Job(task: task) }
        Task {
            await task.value
            running.withLockedValue { if $0[nodeID]?.task == task { $0[nodeID] = nil } }
        }
    }

    /// Whether the node's job here must stop at this safe point (the node was handed over, or
    /// the job cancelled); the job is then leaving, which a takeover waits for.
    func mustLeave(_ nodeID: UUID) -> Bool {
        running.withLockedValue { jobs in
            guard jobs[nodeID]?.handedOver == true || Task.isCancelled else { return false }
            jobs[nodeID]?.leaving = true
            return true
        }
    }

    /// Resumes the node's unsettled deployment or node action, once its runner has let go.
    func resume(_ nodeID: UUID) async {
        var record: DeploymentRecord?
        var previous: String?
        while record == nil {
            if mustLeave(nodeID) { return }
            let stored: DeploymentRecord?
            do {
                stored = try await records.load(DeploymentRecord.self, id: nodeID)
            } catch {
                logger.warning("cannot read a deployment to resume; trying again", metadata: ["node": "\(nodeID)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            guard let stored, !stored.step.isSettled else { return }
            if let runner = stored.runner, runner != me {
                previous = runner
                if await isAlive(runner) {
                    // Still running there, up to its next safe point.
                    try? await Task.sleep(for: .milliseconds(500))
                    continue
                }
            }
            record = stored
        }
        guard let record else { return }
        logger.notice("resuming a deployment", metadata: ["node": "\(nodeID)", "step": "\(record.step.rawValue)",
                                                          "after": "\(previous ?? "this server's restart")"])
        let deployment: NodeDeployment
        do {
            deployment = try await deployed(nodeID)
        } catch {
            await giveUp(record, reason: "\(record.step.rawValue): \(NodeDeployment.describe(error))")
            return
        }
        await limit.run { [previous] in await deployment.resume(record, after: previous) }
    }

    /// Whether `runner` is a live server of the cluster: its heartbeat less than a lease period
    /// older than the newest heartbeat (this server's own is among them and fresh), so the
    /// servers' clocks do not matter. A lone server's runner other than itself is from a
    /// previous run, and dead; a cluster that cannot be read is taken as alive (wait, look again).
    func isAlive(_ runner: String) async -> Bool {
        guard let cluster = records.store as? any ClusterStore else { return false }
        guard let servers = try? await cluster.clusterServers() else { return true }
        guard let newest = servers.map(\.heartbeatAt).max() else { return false }
        let lease = ClusterService.Settings().leaseSeconds
        return servers.contains { $0.nodeName == runner && newest.timeIntervalSince($0.heartbeatAt) < lease }
    }

    /// A job that cannot even be resumed (its records are incomplete): failed, as it stands.
    private func giveUp(_ record: DeploymentRecord, reason: String) async {
        var failed = record
        failed.step = .failed
        failed.message = reason
        failed.runner = nil
        // The state before the step, as `NodeDeployment.progress` does.
        await context.nodes.unmanage(record.id)
        try? await context.nodes.setDeploymentState(record.id, .error, message: reason)
        try? await records.save(failed)
        publish(DeploymentProgress(nodeID: record.id, familyID: record.familyID, step: .failed, state: .error, message: reason))
    }
}
