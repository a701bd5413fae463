import ErlangTerm
import Foundation
import NIOCore
import NumbatCore
import NumbatProviders

/// The per-node part of orchestration: one node's deployment (seed 4.1.4) and its actions.
/// UNINIT -> instance -> release uploaded, unpacked, customised -> STOPPED -> started -> DOWN
/// -> UP -> bootstrapped; any failure -> ERROR with the reason, and the instance destroyed.
/// Every step is safe to run again, so a deployment cut short (its server died, or let the node
/// go) is resumed by the node's next holder from its recorded step (`OrchestrationService+Jobs`).
struct NodeDeployment: Sendable {
    let service: OrchestrationService
    let nodeID: UUID
    let family: NodeFamily
    let domain: DomainRecord
    let provider: ProviderRecord
    let release: ReleaseRecord

    var records: OrchestrationRecords { service.records }

    /// The node's name: `<uuid>@<host>`, as the seed names deployed nodes.
    func nodeName(address: String) -> String { "\(nodeID.uuidString.lowercased())@\(address)" }

    /// Numbat's directory on the host (relative to the SSH user's home unless absolute).
    var root: String { provider.releaseDirectory ?? "numbat" }
    var directory: String { "\(root)/nodes/\(nodeID.uuidString.lowercased())" }
    var cachedArchive: String { "\(root)/releases/\(release.sha256).tar.gz" }

    /// The steps of a deployment in order; a resumed one goes on from its recorded step.
    static let order: [DeploymentStep] = [.creatingInstance, .connecting, .uploading, .unpacking, .starting, .connectingNode, .bootstrapping, .done]

    /// Where `step` is in `order` (node actions' steps come after it).
    static func position(_ step: DeploymentStep) -> Int { order.firstIndex(of: step) ?? order.count }

    /// The job stopped at a safe point, the node handed over (or the job cancelled): `next` is
    /// where its next holder goes on.
    struct Leaving: Error {
        var next: DeploymentStep
    }

    /// A new deployment's first record, saved before the request that asked for it is answered:
    /// the node's id in the answer is found at once (`GET /api/orch/nodes/{id}`, even while the
    /// deployment waits its turn), and a server killed right after answering leaves a record
    /// its next start resumes rather than a planned node nobody deploys.
    func planned(autostart: Bool) -> DeploymentRecord {
        DeploymentRecord(id: nodeID, familyID: family.id, domainID: domain.id, providerID: provider.id, releaseID: release.id,
                         sshPort: 22, step: .creatingInstance, createdAt: Date(), runner: service.me, autostart: autostart, completed: false)
    }

    /// A new deployment, from its `planned` record.
    func run(planned record: DeploymentRecord) async {
        await run(record, resumedAfter: nil)
    }

    /// Goes on with a job another run left unsettled (`OrchestrationService.resume`): a node
    /// action is finished, a deployment goes on from its recorded step.
    func resume(_ record: DeploymentRecord, after previous: String?) async {
        switch record.step {
        case .stopping:
            try? await service.stopNode(nodeID)
        case .deleting:
            try? await service.removeDeployed(nodeID)
        default:
            await run(record, resumedAfter: .some(previous))
        }
    }

    /// Runs the deployment from `start.step`: every step before it is done (`resumedAfter` is
    /// nil for a new deployment, else the runner it was cut short on, nil for a restart).
    private func run(_ start: DeploymentRecord, resumedAfter previous: String??) async {
        var deployment = start
        let from = Self.position(start.step)
        var doing = start.step
        var instance: ProvisionedInstance?
        var cloud: (any InfrastructureProvider)?
        /// Whether the release may have been started (a failure then stops it).
        var started = from >= Self.position(.starting)
        /// Where a job stopping at a safe point goes on: never before where it started.
        func after(_ step: DeploymentStep) -> DeploymentStep { Self.position(step) >= from ? step : start.step }
        do {
            if service.mustLeave(nodeID) { throw Leaving(next: start.step) }
            deployment.runner = service.me
            try await records.save(deployment)
            let provisioner = try await service.provider(provider)
            cloud = provisioner
            instance = try await recordedInstance(deployment, provisioner)
            if instance == nil {
                doing = .creatingInstance
                await progress(&deployment, .creatingInstance, .uninit)
                instance = try await createInstance(&deployment, provisioner)
            }
            guard let address = instance?.address else { throw NumbatError(.unavailable, "no_address", "the instance has no address") }
            try await rename(to: nodeName(address: address), host: address)
            doing = .connecting
            if from <= Self.position(.connecting) { await progress(&deployment, .connecting, .uninit) }
            let ssh = try await connect(&deployment)
            defer { Task { await ssh.close() } }
            if from <= Self.position(.uploading) {
                doing = .uploading
                await progress(&deployment, .uploading, .uninit)
                try await upload(ssh)
            }
            try checkpoint(after(.unpacking))
            if from <= Self.position(.unpacking) {
                doing = .unpacking
                await progress(&deployment, .unpacking, .uninit)
                try await unpack(ssh, name: nodeName(address: address))
            }
            guard deployment.autostart ?? true else {
                deployment.completed = true
                await progress(&deployment, .done, .stopped)
                return
            }
            try checkpoint(after(.starting))
            if from <= Self.position(.starting) {
                doing = .starting
                await progress(&deployment, .starting, .stopped)
                started = true
                if from == Self.position(.starting), previous != nil, try await alreadyStarted(ssh) {
                    service.logger.info("deployment resumed at its start: the node's processes already run, not started again", metadata: ["node": "\(nodeID)"])
                } else {
                    try await startCommand(ssh, address: address)
                }
            }
            doing = .connectingNode
            try await join(ssh, deployment: &deployment, bootstrapOnly: from >= Self.position(.bootstrapping), doing: &doing)
        } catch let leaving as Leaving {
            await leave(&deployment, next: leaving.next)
        } catch {
            if Task.isCancelled {
                await leave(&deployment, next: deployment.step)
                return
            }
            var reason = "\(doing.rawValue): \(Self.describe(error))"
            if let previous {
                reason += " (resumed after \(previous ?? "a restart of this server") stopped during \(start.step.rawValue))"
            }
            service.logger.warning("deployment failed", metadata: ["node": "\(nodeID)", "reason": "\(reason)"])
            // Never leave a cloud machine behind that no one manages; physical hosts keep
            // nothing of the node either. A node deployed before (a start cut short, resumed)
            // keeps what it has: it is ERROR, for the user to restart or delete.
            if deployment.completed == false {
                await cleanUp(&deployment, instance: instance, cloud: cloud, started: started)
            }
            await service.context.nodes.unmanage(nodeID)
            await progress(&deployment, .failed, .error, message: reason)
        }
    }

    /// Stops at a safe point if the node was handed over (or the job cancelled).
    func checkpoint(_ next: DeploymentStep) throws {
        if service.mustLeave(nodeID) { throw Leaving(next: next) }
    }

    /// Leaves the rest to the node's next holder: the step to go on from, and no runner.
    private func leave(_ deployment: inout DeploymentRecord, next: DeploymentStep) async {
        deployment.step = next
        deployment.runner = nil
        do {
            try await records.save(deployment)
            service.logger.info("deployment left for the node's next holder", metadata: ["node": "\(nodeID)", "next": "\(next.rawValue)"])
        } catch {
            // The database cannot be reached: the record names this server, which the next
            // holder waits for only while this server's heartbeat is fresh.
            service.logger.warning("deployment left, its record not updated", metadata: ["node": "\(nodeID)", "error": "\(error)"])
        }
    }

    /// The machine an earlier run made or picked, if it is still there.
    private func recordedInstance(_ deployment: DeploymentRecord, _ provisioner: any InfrastructureProvider) async throws -> ProvisionedInstance? {
        guard let address = deployment.address else { return nil }
        guard provider.kind != .physical else {
            return ProvisionedInstance(id: deployment.instanceID ?? address, address: address, sshPort: deployment.sshPort, state: "running")
        }
        guard let id = deployment.instanceID, let found = try await provisioner.instance(id: id), found.address != nil,
              !["terminated", "shutting-down", "deleted", "stopped"].contains(found.state.lowercased()) else { return nil }
        return found
    }

    /// Makes (or picks) the machine and records it at once. Not cancelled half-way: a machine
    /// made whose answer was dropped would be no one's.
    private func createInstance(_ deployment: inout DeploymentRecord, _ provisioner: any InfrastructureProvider) async throws -> ProvisionedInstance {
        let request = InstanceRequest(name: "numbat-\(nodeID.uuidString.lowercased())", image: domain.vdisk, size: domain.hwProfile,
                                      keyName: domain.keyName, securityGroup: domain.securityGroupID)
        let record = deployment
        let made = try await Task { [self] in
            guard provider.kind == .physical else { return try await provisioner.createInstance(request) }
            // Placement on existing hosts counts the nodes already placed: one at a time, so
            // nodes deployed together spread over the hosts.
            return try await service.placementLocks.withLock(provider.id) { [record] in
                var placed = request
                placed.addressesInUse = try await records.all(DeploymentRecord.self).filter { $0.providerID == provider.id && $0.id != nodeID }.compactMap(\.address)
                let made = try await provisioner.createInstance(placed)
                var placedRecord = record
                placedRecord.address = made.address
                placedRecord.sshPort = made.sshPort
                try await records.save(placedRecord)
                return made
            }
        }.value
        deployment.instanceID = made.id
        deployment.address = made.address
        deployment.sshPort = made.sshPort
        deployment.directory = directory
        try await records.save(deployment)
        return made
    }

    /// Removes what a failed deployment made: the release stopped if it may have started, the
    /// node's directory (physical hosts) or the whole instance (clouds).
    private func cleanUp(_ deployment: inout DeploymentRecord, instance: ProvisionedInstance?, cloud: (any InfrastructureProvider)?, started: Bool) async {
        if provider.kind != .physical {
            if let id = instance?.id ?? deployment.instanceID {
                var provisioner = cloud
                if provisioner == nil { provisioner = try? await service.provider(provider) }
                do {
                    try await provisioner?.destroyInstance(id: id)
                    deployment.instanceID = nil
                } catch {
                    service.logger.error("cannot destroy a failed deployment's instance", metadata: ["node": "\(nodeID)", "instance": "\(id)", "error": "\(error)"])
                }
            }
        } else if deployment.address != nil {
            if started, let ssh = try? await { var copy = deployment; return try await connect(&copy) }() {
                _ = try? await ssh.run("cd \(ShellQuote.quote(directory)) && \((try? await environment(name: nodeName(address: deployment.address ?? ""))) ?? "") \(release.stopCommand)",
                                       timeout: .seconds(60))
                await ssh.close()
            }
            await removeDirectory(deployment)
        }
    }

    /// Runs the release's start command.
    func startCommand(_ ssh: any RemoteShell, address: String) async throws {
        try await ssh.check("cd \(ShellQuote.quote(directory)) && \(try await environment(name: nodeName(address: address))) \(release.startCommand)",
                            doing: "the start command (\(release.startCommand))")
    }

    /// Whether a process of this node runs on the host: a start cut short by a kill may have
    /// launched the release already (`daemon` commands outlive the SSH session), and running the
    /// start command again would boot a second BEAM under the same name. Every process of the
    /// node names its id (its directory or its `-name`); the bracket keeps the pattern from
    /// matching the shell that runs `pgrep` itself. A host without `pgrep` answers "no", and the
    /// start command runs as before.
    func alreadyStarted(_ ssh: any RemoteShell) async throws -> Bool {
        let id = nodeID.uuidString.lowercased()
        let pattern = "[\(id.prefix(1))]\(id.dropFirst())"
        let result = try await ssh.run("pgrep -f \(ShellQuote.quote(pattern))", timeout: .seconds(30))
        if result.exitStatus != 0 && result.exitStatus != 1 {
            service.logger.warning("cannot tell whether a resumed deployment's node runs; starting it", metadata: ["node": "\(nodeID)", "pgrep": "\(result.summary)"])
        }
        return result.exitStatus == 0
    }

    /// Starts the release, waits for the node manager to see it UP, then joins it to its family.
    func startAndJoin(_ ssh: any RemoteShell, deployment: inout DeploymentRecord) async throws {
        try await startCommand(ssh, address: deployment.address ?? "")
        var doing = DeploymentStep.connectingNode
        try await join(ssh, deployment: &deployment, bootstrapOnly: false, doing: &doing)
    }

    /// Hands the started node to the node manager, waits until it is UP, then joins it to its
    /// family (`bootstrapOnly`: resumed at the bootstrap, the node started and managed before).
    private func join(_ ssh: any RemoteShell, deployment: inout DeploymentRecord, bootstrapOnly: Bool, doing: inout DeploymentStep) async throws {
        let address = deployment.address ?? ""
        try checkpoint(bootstrapOnly ? .bootstrapping : .connectingNode)
        if !bootstrapOnly { await progress(&deployment, .connectingNode, .down) }
        try await service.context.nodes.manage(nodeID)
        try await waitUntilUp(resumeAt: bootstrapOnly ? .bootstrapping : .connectingNode)
        try checkpoint(.bootstrapping)
        doing = .bootstrapping
        await progress(&deployment, .bootstrapping, .up)
        // "done" is recorded inside the lock, so the next node of the family sees this one as
        // a member to join.
        deployment = try await service.bootstrapLocks.withLock(family.id) { [deployment] in
            try await bootstrap(ssh, address: address)
            var done = deployment
            done.completed = true
            await progress(&done, .done, .up)
            return done
        }
    }

    /// Joins the node to a running member chosen by the family's selection strategy (seed
    /// 4.1.3); the first node of a family has no one to join.
    private func bootstrap(_ ssh: any RemoteShell, address: String) async throws {
        let done = try await records.all(DeploymentRecord.self, parent: family.id).filter { $0.step == .done && $0.id != nodeID }
        var candidates: [ManagedNode] = []
        for record in done {
            if let node = try await service.store.node(id: record.id), node.state == .up { candidates.append(node) }
        }
        guard !candidates.isEmpty else { return }
        let peer: ManagedNode
        if family.nodeSelection == "round_robin" {
            // Spread joins over providers: prefer a node on another provider, oldest first.
            let others = done.filter { $0.providerID != provider.id }.map(\.id)
            peer = candidates.first { others.contains($0.id) } ?? candidates[0]
        } else {
            peer = candidates.randomElement()!
        }
        if family.bootstrapStrategy == "custom", let command = family.bootstrapStrategyOptions["cmd"] {
            try await ssh.check("cd \(ShellQuote.quote(directory)) && \(try await environment(name: nodeName(address: address))) \(command) \(ShellQuote.quote(peer.name))",
                                doing: "the bootstrap command (\(command) \(peer.name))")
        } else {
            guard let node = try await service.store.node(id: nodeID) else { return }
            let joined = try await service.context.nodes.rpc(node, "net_kernel", "connect_node", [.atom(Atom(peer.name))])
            guard joined == .atom("true") else {
                throw NumbatError(.unavailable, "bootstrap_failed", "\(node.name) could not connect to \(peer.name) (net_kernel:connect_node/1 returned \(joined.erlangDescription))")
            }
        }
    }

    /// Waits for the node manager to see the node UP; a hand-over meanwhile leaves the job,
    /// to go on at `resumeAt`.
    private func waitUntilUp(resumeAt: DeploymentStep) async throws {
        let deadline = ContinuousClock.now + service.settings.upTimeout
        while ContinuousClock.now < deadline {
            try checkpoint(resumeAt)
            if let node = try await service.store.node(id: nodeID), node.state == .up { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let reason = try await service.store.node(id: nodeID)?.lastError ?? "no answer"
        throw NumbatError(.timeout, "node_not_up", "the node did not come UP within \(service.settings.upTimeout) after its start command (\(reason))")
    }

    /// Logs in to the node's host: with the key Numbat holds (the host's key remembered in the
    /// record on first use), or with OpenSSH and the server user's own setup (known_hosts
    /// remembers the host's key).
    func connect(_ deployment: inout DeploymentRecord) async throws -> any RemoteShell {
        let target = SSHTarget(host: deployment.address ?? "", port: deployment.sshPort, user: domain.sshUser)
        switch try await service.loginMethod(provider: provider, familyID: family.id) {
        case .openSSH:
            return try await OpenSSHSession.connect(to: target, settings: service.settings.openSSH)
        case .key(let key):
            let ssh: SSHConnection
            do {
                ssh = try await SSHConnection.connect(to: target, key: key, knownHostKey: deployment.hostKey)
            } catch let refused as SSHError where refused.keyRefused && provider.kind != .physical && domain.sshUser != "root" {
                // A cloud image with only root (seed 4.1.4 step 2, Rackspace): the user is made.
                try await createUser(on: &deployment, key: key, refused: refused)
                ssh = try await SSHConnection.connect(to: target, key: key, knownHostKey: deployment.hostKey)
            }
            if deployment.hostKey == nil {
                deployment.hostKey = ssh.hostKey
                try await records.save(deployment)
            }
            return ssh
        }
    }

    /// Uploads the archive unless the host already has it (nodes on one host share one copy).
    func upload(_ ssh: any RemoteShell) async throws {
        let have = try await ssh.run("sha256sum \(ShellQuote.quote(cachedArchive)) 2>/dev/null")
        if have.standardOutput.hasPrefix(release.sha256) { return }
        let archive = service.releaseDirectory.appendingPathComponent("\(release.id.uuidString.lowercased()).tar.gz")
        guard FileManager.default.fileExists(atPath: archive.path) else {
            // Each server keeps the archives uploaded to it: a deployment resumed on another
            // server before its upload cannot go on.
            throw NumbatError(.unavailable, "release_archive_missing",
                              "the archive of release \(release.name) is not on this server (\(service.me)): it was uploaded to another server of the cluster")
        }
        try await ssh.check("mkdir -p \(ShellQuote.quote(root + "/releases"))", idempotent: true, doing: "making \(root)/releases")
        try await ssh.upload(file: archive, to: cachedArchive, temporarySuffix: nodeID.uuidString.lowercased())
    }

    /// Unpacks into the node's directory and writes its customised templates.
    private func unpack(_ ssh: any RemoteShell, name: String) async throws {
        let dir = ShellQuote.quote(directory)
        try await ssh.check("rm -rf \(dir) && mkdir -p \(dir) && tar xzf \(ShellQuote.quote(cachedArchive)) -C \(dir)", doing: "unpacking the release")
        try await writeTemplates(ssh, name: name)
    }

    /// Writes the release's templates into the node's directory, customised for the node.
    func writeTemplates(_ ssh: any RemoteShell, name: String) async throws {
        let cookie = try await releaseCookie()
        for (path, template) in release.templates.sorted(by: { $0.key < $1.key }) {
            let text = Self.render(template, name: name, cookie: cookie)
            try await ssh.upload(ByteBuffer(string: text), to: "\(directory)/\(path)", mode: "0600")
        }
    }

    /// `{{ node_name }}` and `{{ cookie }}` replaced (with or without the spaces).
    static func render(_ template: String, name: String, cookie: String) -> String {
        var text = template
        for (placeholder, value) in [("node_name", name), ("cookie", cookie)] {
            text = text.replacingOccurrences(of: "{{ \(placeholder) }}", with: value).replacingOccurrences(of: "{{\(placeholder)}}", with: value)
        }
        return text
    }

    /// `env K=V ...` for the release's environment, rendered for this node.
    func environment(name: String) async throws -> String {
        guard !release.environment.isEmpty else { return "" }
        let cookie = try await releaseCookie()
        return "env " + release.environment.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(ShellQuote.quote(Self.render($0.value, name: name, cookie: cookie)))" }.joined(separator: " ")
    }

    func releaseCookie() async throws -> String {
        try await records.secrets(of: ReleaseRecord.self, id: release.id)["cookie"] ?? ""
    }

    /// Removes the node's directory (and its rollback copy) and every release archive on the
    /// host that no other node there runs: this node's, and those a rolling upgrade left
    /// (the release upgraded from, a failed upgrade's).
    func removeDirectory(_ deployment: DeploymentRecord) async {
        guard let ssh = try? await { var copy = deployment; return try await connect(&copy) }() else { return }
        defer { Task { await ssh.close() } }
        let others = (try? await records.all(DeploymentRecord.self))?.filter {
            $0.id != nodeID && $0.address == deployment.address && $0.providerID == deployment.providerID
        } ?? []
        var kept: Set<String> = []
        for releaseID in Set(others.map(\.releaseID)) {
            if let sha = try? await records.load(ReleaseRecord.self, id: releaseID)?.sha256 { kept.insert(sha) }
        }
        var command = "rm -rf \(ShellQuote.quote(directory)) \(ShellQuote.quote(directory + ".rollback"))"
        let archives = ShellQuote.quote(root + "/releases") + "/*.tar.gz"
        if kept.isEmpty {
            command += "; rm -f \(archives)"
        } else {
            command += "; for f in \(archives); do case \"${f##*/}\" in \(kept.sorted().map { "\($0).tar.gz" }.joined(separator: "|"))) ;; *) rm -f \"$f\" ;; esac; done"
        }
        // relx's `daemon` start (run_erl) keeps the node's pipes in /tmp/erl_pipes/<node name>,
        // outside the node's directory: gone with the node too.
        if let address = deployment.address, !address.isEmpty {
            command += "; rm -rf \(ShellQuote.quote("/tmp/erl_pipes/" + nodeName(address: address)))"
        }
        command += "; rmdir \(ShellQuote.quote(root + "/nodes")) \(ShellQuote.quote(root + "/releases")) \(ShellQuote.quote(root)) 2>/dev/null; true"
        _ = try? await ssh.run(command)
    }

    // MARK: State

    private func rename(to name: String, host: String) async throws {
        try await service.context.nodes.setAddress(nodeID, name: name, host: host)
    }

    /// Records the step and publishes it; UNINIT, STOPPED and ERROR go to the node manager,
    /// which owns the node's state (UP and DOWN are its own once it manages the node).
    func progress(_ deployment: inout DeploymentRecord, _ step: DeploymentStep, _ state: NodeState, message: String? = nil) async {
        deployment.step = step
        deployment.message = message
        // The runner is recorded with every step: a job's next holder waits for it to let go.
        deployment.runner = step.isSettled || step == .deleted ? nil : service.me
        // The node's state first, then the step: whoever reads a settled step (failed, done)
        // finds the node's state already set with it (ERROR and its reason), not the one before.
        if [.uninit, .stopped, .error].contains(state), let node = try? await service.store.node(id: nodeID), node.state != state {
            do {
                try await service.context.nodes.setDeploymentState(nodeID, state, message: state == .error ? message : nil)
            } catch {
                service.logger.warning("node state not set", metadata: ["node": "\(nodeID)", "state": "\(state)", "error": "\(error)"])
            }
        }
        try? await records.save(deployment)
        let stored = try? await service.store.node(id: nodeID)
        service.publish(DeploymentProgress(nodeID: nodeID, familyID: family.id, step: step, state: state, message: message, nodeName: stored?.name))
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let error as NumbatError: error.message
        case let error as SSHError: error.description
        case let error as ProviderError: error.description
        default: "\(error)"
        }
    }
}
