import ErlangTerm
import Foundation
import NIOCore
import NumbatCore
import NumbatProviders

/// The per-node part of orchestration: one node's deployment (seed 4.1.4) and its actions.
/// UNINIT -> instance -> release uploaded, unpacked, customised -> STOPPED -> started -> DOWN
/// -> UP -> bootstrapped; any failure -> ERROR with the reason, and the instance destroyed.
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

    func run(autostart: Bool) async {
        var deployment = DeploymentRecord(id: nodeID, familyID: family.id, domainID: domain.id, providerID: provider.id, releaseID: release.id,
                                          sshPort: 22, step: .creatingInstance, createdAt: Date())
        var instance: ProvisionedInstance?
        var cloud: (any InfrastructureProvider)?
        do {
            try await records.save(deployment)
            await progress(&deployment, .creatingInstance, .uninit)
            let provisioner = try await service.provider(provider)
            cloud = provisioner
            let request = InstanceRequest(name: "numbat-\(nodeID.uuidString.lowercased())", image: domain.vdisk, size: domain.hwProfile,
                                          keyName: domain.keyName, securityGroup: domain.securityGroupID)
            let made: ProvisionedInstance
            if provider.kind == .physical {
                // Placement on existing hosts counts the nodes already placed: one at a time, so
                // nodes deployed together spread over the hosts.
                made = try await service.placementLocks.withLock(provider.id) { [deployment] in
                    var placed = request
                    placed.addressesInUse = try await records.all(DeploymentRecord.self).filter { $0.providerID == provider.id && $0.id != nodeID }.compactMap(\.address)
                    let made = try await provisioner.createInstance(placed)
                    var record = deployment
                    record.address = made.address
                    try await records.save(record)
                    return made
                }
            } else {
                made = try await provisioner.createInstance(request)
            }
            instance = made
            guard let address = made.address else { throw NumbatError(.unavailable, "no_address", "the instance has no address") }
            deployment.instanceID = made.id
            deployment.address = address
            deployment.sshPort = made.sshPort
            deployment.directory = directory
            try await rename(to: nodeName(address: address), host: address)
            await progress(&deployment, .connecting, .uninit)
            let ssh = try await connect(&deployment)
            defer { Task { await ssh.close() } }
            await progress(&deployment, .uploading, .uninit)
            try await upload(ssh)
            await progress(&deployment, .unpacking, .uninit)
            try await unpack(ssh, name: nodeName(address: address))
            await progress(&deployment, autostart ? .starting : .done, .stopped)
            if autostart {
                try await startAndJoin(ssh, deployment: &deployment)
            }
        } catch {
            let reason = "\(deployment.step.rawValue): \(Self.describe(error))"
            service.logger.warning("deployment failed", metadata: ["node": "\(nodeID)", "reason": "\(reason)"])
            // Never leave a cloud machine behind that no one manages; physical hosts keep
            // nothing of the node either.
            if let instance, let cloud, provider.kind != .physical {
                try? await cloud.destroyInstance(id: instance.id)
                deployment.instanceID = nil
            } else if instance != nil {
                await removeDirectory(deployment)
            }
            await service.context.nodes.unmanage(nodeID)
            await progress(&deployment, .failed, .error, message: reason)
        }
    }

    /// Starts the release, waits for the node manager to see it UP, then joins it to its family.
    func startAndJoin(_ ssh: SSHConnection, deployment: inout DeploymentRecord) async throws {
        let address = deployment.address ?? ""
        try await ssh.check("cd \(ShellQuote.quote(directory)) && \(try await environment(name: nodeName(address: address))) \(release.startCommand)",
                            doing: "the start command (\(release.startCommand))")
        await progress(&deployment, .connectingNode, .down)
        try await service.context.nodes.manage(nodeID)
        try await waitUntilUp()
        await progress(&deployment, .bootstrapping, .up)
        // "done" is recorded inside the lock, so the next node of the family sees this one as
        // a member to join.
        deployment = try await service.bootstrapLocks.withLock(family.id) { [deployment] in
            try await bootstrap(ssh, address: address)
            var done = deployment
            await progress(&done, .done, .up)
            return done
        }
    }

    /// Joins the node to a running member chosen by the family's selection strategy (seed
    /// 4.1.3); the first node of a family has no one to join.
    private func bootstrap(_ ssh: SSHConnection, address: String) async throws {
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

    private func waitUntilUp() async throws {
        let deadline = ContinuousClock.now + service.settings.upTimeout
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            if let node = try await service.store.node(id: nodeID), node.state == .up { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let reason = try await service.store.node(id: nodeID)?.lastError ?? "no answer"
        throw NumbatError(.timeout, "node_not_up", "the node did not come UP within \(service.settings.upTimeout) after its start command (\(reason))")
    }

    func connect(_ deployment: inout DeploymentRecord) async throws -> SSHConnection {
        let key = try await service.loginKey(provider: provider, familyID: family.id)
        let target = SSHTarget(host: deployment.address ?? "", port: deployment.sshPort, user: domain.sshUser)
        let ssh = try await SSHConnection.connect(to: target, key: key, knownHostKey: deployment.hostKey)
        if deployment.hostKey == nil {
            deployment.hostKey = ssh.hostKey
            try await records.save(deployment)
        }
        return ssh
    }

    /// Uploads the archive unless the host already has it (nodes on one host share one copy).
    private func upload(_ ssh: SSHConnection) async throws {
        let have = try await ssh.run("sha256sum \(ShellQuote.quote(cachedArchive)) 2>/dev/null")
        if have.standardOutput.hasPrefix(release.sha256) { return }
        try await ssh.check("mkdir -p \(ShellQuote.quote(root + "/releases"))", idempotent: true, doing: "making \(root)/releases")
        let archive = service.releaseDirectory.appendingPathComponent("\(release.id.uuidString.lowercased()).tar.gz")
        try await ssh.upload(file: archive, to: cachedArchive, temporarySuffix: nodeID.uuidString.lowercased())
    }

    /// Unpacks into the node's directory and writes its customised templates.
    private func unpack(_ ssh: SSHConnection, name: String) async throws {
        let dir = ShellQuote.quote(directory)
        try await ssh.check("rm -rf \(dir) && mkdir -p \(dir) && tar xzf \(ShellQuote.quote(cachedArchive)) -C \(dir)", doing: "unpacking the release")
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

    /// Removes the node's directory and, when no other node on the host uses it, the archive.
    func removeDirectory(_ deployment: DeploymentRecord) async {
        guard let ssh = try? await { var copy = deployment; return try await connect(&copy) }() else { return }
        defer { Task { await ssh.close() } }
        let others = (try? await records.all(DeploymentRecord.self))?.filter {
            $0.id != nodeID && $0.address == deployment.address && $0.providerID == deployment.providerID && $0.releaseID == release.id
        } ?? []
        var command = "rm -rf \(ShellQuote.quote(directory))"
        if others.isEmpty { command += " \(ShellQuote.quote(cachedArchive))" }
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
        try? await records.save(deployment)
        if [.uninit, .stopped, .error].contains(state), let node = try? await service.store.node(id: nodeID), node.state != state {
            do {
                try await service.context.nodes.setDeploymentState(nodeID, state, message: state == .error ? message : nil)
            } catch {
                service.logger.warning("node state not set", metadata: ["node": "\(nodeID)", "state": "\(state)", "error": "\(error)"])
            }
        }
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
