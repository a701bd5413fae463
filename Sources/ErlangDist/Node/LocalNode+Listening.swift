import ErlangTerm
import NIOCore
import NIOPosix

extension LocalNode {
    /// Accepts connections from Erlang nodes: binds `host:port` (port 0 picks one) and
    /// registers the node's name with the local EPMD as a hidden node, so `{Name, Node} ! Msg`
    /// and `net_adm:ping/1` reach it. Returns the port. Without `registerWithEPMD` the caller
    /// answers for the name itself (the node simulator runs its own EPMD).
    @discardableResult
    public func listen(host: String = "127.0.0.1", port: Int = 0, registerWithEPMD: Bool = true) async throws(DistributionError) -> Int {
        let settings = handlerSettings
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    let handshake = Handshake(
                        role: .acceptor, localName: name.description, flags: .numbat, creation: creation,
                        cookie: configuration.cookie,
                        nameForPeer: { [self] peer in ((try? NodeName(peer)).map { localName(for: $0) } ?? name).description },
                        cookieForPeer: { [self] peer in state.withLockedValue { $0.cookies[Atom(peer)] } })
                    let established = channel.eventLoop.makePromise(of: NodeConnection.self)
                    established.futureResult.whenFailure { [logger] error in
                        logger.info("incoming connection refused", metadata: ["reason": "\(error)"])
                    }
                    let handler = DistributionChannelHandler(handshake: handshake, dialled: nil, settings: settings, delegate: self, established: established)
                    return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw .connectionFailed(name, reason: "cannot listen on \(host):\(port): \(error)")
        }
        let boundPort = channel.localAddress?.port ?? port
        guard registerWithEPMD else {
            state.withLockedValue { state in
                state.listener = channel
                state.listenPort = boundPort
            }
            return boundPort
        }
        let epmd = EPMDClient(port: configuration.epmdPort, group: group)
        do {
            let registration = try await epmd.register(name: name.alive, listenPort: boundPort, hidden: true)
            state.withLockedValue { state in
                state.listener = channel
                state.epmdRegistration = registration.channel
                state.listenPort = boundPort
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return boundPort
    }

    /// The port the node listens on, if it listens.
    public var listeningPort: Int? { state.withLockedValue { $0.listenPort } }
}
