import ErlangTerm
import NIOCore
import NIOPosix
import NIOSSL

extension LocalNode {
    /// Connects to `peer` (or returns the existing connection): EPMD lookup (unless the peer has
    /// a fixed port, `setDistributionPort`), TCP, handshake.
    /// Concurrent callers share one attempt.
    @discardableResult
    public func connect(to peer: NodeName) async throws(DistributionError) -> NodeConnection {
        let slot: Result<EventLoopFuture<NodeConnection>, DistributionError> = state.withLockedValue { state in
            if state.isShutDown { return .failure(.noConnection(peer)) }
            switch state.connections[peer.atom] {
            case .up(let connection):
                return .success(group.next().makeSucceededFuture(connection))
            case .pending(let future):
                return .success(future)
            case nil:
                let promise = group.next().makePromise(of: NodeConnection.self)
                state.connections[peer.atom] = .pending(promise.futureResult)
                promise.completeWithTask { try await self.dial(peer) }
                promise.futureResult.whenFailure { _ in
                    self.state.withLockedValue { state in
                        if case .pending = state.connections[peer.atom] { state.connections[peer.atom] = nil }
                    }
                }
                return .success(promise.futureResult)
            }
        }
        let future = try slot.get()
        do {
            return try await future.get()
        } catch let error as DistributionError {
            throw error
        } catch {
            throw .connectionFailed(peer, reason: "\(error)")
        }
    }

    /// Connects to `peer` given as text.
    @discardableResult
    public func connect(to peer: String) async throws(DistributionError) -> NodeConnection {
        try await connect(to: try NodeName(peer))
    }

    /// The existing connection to `node`, if up.
    func existingConnection(_ node: Atom) -> NodeConnection? {
        state.withLockedValue { state in
            if case .up(let connection) = state.connections[node] { return connection }
            return nil
        }
    }

    /// The task executor of the connection to `peer`, if it is up: per-peer work that prefers it
    /// runs on the thread of the peer's socket (see `EventLoopTaskExecutor`). A connection made
    /// later (after a loss) may live on another loop; callers ask again when they start over.
    public func taskExecutor(for peer: NodeName) -> EventLoopTaskExecutor? {
        existingConnection(peer.atom)?.taskExecutor
    }

    /// The connection to `node`, connecting if needed and allowed (`Configuration.autoConnect`;
    /// `node` must be a valid node name).
    func connection(to node: Atom) async throws(DistributionError) -> NodeConnection {
        if let connection = existingConnection(node) { return connection }
        let peer = try NodeName(node.name)
        guard configuration.autoConnect else {
            // A connection being set up by `connect(to:)` is waited for, not refused.
            if case .pending = state.withLockedValue({ $0.connections[node] }) { return try await connect(to: peer) }
            throw .noConnection(peer)
        }
        return try await connect(to: peer)
    }

    /// Closes the connection to `peer`, as `erlang:disconnect_node/1` does.
    public func disconnect(_ peer: NodeName) async {
        guard let connection = existingConnection(peer.atom) else { return }
        try? await connection.channel.close()
    }

    private func dial(_ peer: NodeName) async throws -> NodeConnection {
        let timeout = TimeAmount.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
            + configuration.connectTimeout.components.attoseconds / 1_000_000_000)
        let port: Int
        if let fixed = distributionPort(for: peer) {
            // No EPMD to say which versions the node speaks: Numbat needs OTP 23's version 6,
            // and an older node refuses the handshake with a clear status.
            port = fixed
        } else {
            let epmd = EPMDClient(port: configuration.epmdPort, timeout: timeout, group: group)
            guard let entry = try await epmd.lookup(name: peer.alive, host: peer.host) else {
                throw DistributionError.nodeNotRegistered(peer)
            }
            guard entry.highestVersion >= 6 else {
                throw DistributionError.connectionFailed(peer, reason: "the node speaks distribution version \(entry.highestVersion); OTP 23 or later is required")
            }
            port = entry.port
        }
        let handshake = Handshake(
            role: .initiator(expectedPeer: peer.description), localName: localName(for: peer).description,
            flags: .numbat, creation: creation, cookie: cookie(for: peer.description))
        let eventLoop = group.next()
        let established = eventLoop.makePromise(of: NodeConnection.self)
        let tls = tlsContext(for: peer)
        var settings = handlerSettings
        if tls != nil { settings.handshakeLengthBytes = 4 }
        let handler = DistributionChannelHandler(handshake: handshake, dialled: peer, settings: settings, delegate: self, established: established)
        // SNI and the name checked in the node's certificate: its host name; an address is
        // checked against the certificate's IP SANs instead (SNI cannot carry one).
        let serverName = peer.host.contains(":") || peer.host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : peer.host
        do {
            _ = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: peer.host, port: port).get()
        } catch {
            established.fail(DistributionError.connectionFailed(peer, reason: "\(error)"))
        }
        do {
            return try await established.futureResult.get()
        } catch DistributionError.connectionFailed(_, let reason) where tls != nil && reason.contains("closed the connection during the handshake") {
            // A TLS node that refuses Numbat's certificate closes the connection, sometimes
            // before its alert is read.
            throw DistributionError.tlsFailed(peer, reason: "the node closed the connection during the handshake: does it trust Numbat's certificate (its CA in the node's cacertfile), and does it run TLS distribution?")
        }
    }

    var handlerSettings: DistributionChannelHandler.Settings {
        let tick = configuration.tickTime / TickState.intensity
        let setup = configuration.connectTimeout
        let tickInterval = TimeAmount.nanoseconds(Int64(tick.components.seconds) * 1_000_000_000 + tick.components.attoseconds / 1_000_000_000)
        return .init(
            tickInterval: tickInterval,
            handshakeTimeout: .nanoseconds(Int64(setup.components.seconds) * 1_000_000_000 + setup.components.attoseconds / 1_000_000_000),
            maxFrameSize: configuration.maxFrameSize,
            fragmentSize: configuration.fragmentSize,
            // A message whose fragments stop for as long as a silent peer is given before it is
            // declared dead has lost them: the BEAM sends a message's fragments back to back.
            fragmentTimeout: tickInterval * Int64(TickState.intensity))
    }
}

extension LocalNode: DistributionChannelHandler.Delegate {
    func connectionEstablished(_ connection: NodeConnection) {
        let replaced: NodeConnection? = state.withLockedValue { state in
            defer { state.connections[connection.peer.atom] = .up(connection) }
            if case .up(let old) = state.connections[connection.peer.atom], old !== connection { return old }
            return nil
        }
        replaced?.close()
        logger.debug("connected", metadata: ["peer": "\(connection.peer)"])
        publish(.up(connection.peer))
    }

    func connection(_ connection: NodeConnection, received message: ControlMessage) {
        route(message, from: connection)
    }

    func connection(_ connection: NodeConnection, received message: FlatTerm, to pid: Pid, from sender: Pid?) {
        deliver(flat: message, to: pid, from: sender)
    }

    func connectionLost(_ connection: NodeConnection, reason: DistributionError) {
        let peer = connection.peer.atom
        let (removed, replies, mailboxes): (Bool, [@Sendable (ReplyOutcome) -> Void], [Mailbox]) = state.withLockedValue { state in
            guard case .up(let current) = state.connections[peer], current === connection else { return (false, [], []) }
            state.connections[peer] = nil
            var replies: [@Sendable (ReplyOutcome) -> Void] = []
            for id in state.awaitingReplies.removeValue(forKey: peer) ?? [] {
                guard case .reply(_, _, let resume) = state.receivers[id] else { continue }
                state.receivers[id] = nil
                state.replyDeadlines.remove(id)
                replies.append(resume)
            }
            let mailboxes = (state.bonds.removeValue(forKey: peer) ?? []).compactMap { id -> Mailbox? in
                guard case .mailbox(let mailbox) = state.receivers[id] else { return nil }
                return mailbox
            }
            return (true, replies, mailboxes)
        }
        guard removed else { return }
        for resume in replies { resume(.failed(.connectionClosed(connection.peer))) }
        for mailbox in mailboxes { mailbox.peerLost(peer) }
        logger.debug("disconnected", metadata: ["peer": "\(connection.peer)", "reason": "\(reason)"])
        publish(.down(connection.peer, reason: reason.description))
    }
}

extension LocalNode {
    /// Notes that `mailbox` is linked to, monitors or is monitored by a process of `node`, so
    /// that it hears of that node's lost connection (`connectionLost`).
    func bond(_ mailbox: Mailbox, with node: Atom) {
        state.withLockedValue { _ = $0.bonds[node, default: []].insert(mailbox.id) }
    }

    /// Forgets `mailbox`'s bonds with `nodes` (it closed).
    func unbond(_ mailbox: Mailbox, from nodes: Set<Atom>) {
        state.withLockedValue { state in
            for node in nodes {
                state.bonds[node]?.remove(mailbox.id)
                if state.bonds[node]?.isEmpty == true { state.bonds[node] = nil }
            }
        }
    }
}

extension Mailbox {
    /// Every link and monitor to processes on `node` fires with reason `noconnection`;
    /// monitors that node held on this mailbox are forgotten.
    func peerLost(_ node: Atom) {
        let signals: [MailboxMessage] = state.withLockedValue { state in
            var signals: [MailboxMessage] = []
            for pid in state.links where pid.node == node {
                state.links.remove(pid)
                signals.append(.exit(from: pid, reason: .atom("noconnection")))
            }
            state.unlinking = state.unlinking.filter { $0.value.node != node }
            for (ref, monitor) in state.monitors where monitor.node == node {
                state.monitors[ref] = nil
                signals.append(.down(ref: ref, process: monitor.target, reason: .atom("noconnection")))
            }
            state.watchers = state.watchers.filter { $0.value.node != node }
            return signals
        }
        for signal in signals { deliver(signal) }
    }
}
