import NIOCore
import NIOPosix

/// Talks to EPMD on a host: looks up nodes' distribution ports, lists names, and registers a
/// listening local node (the registration lives as long as its connection stays open).
public struct EPMDClient: Sendable {
    public var port: Int
    public var timeout: TimeAmount
    let group: any EventLoopGroup

    public init(port: Int = EPMDProtocol.configuredPort, timeout: TimeAmount = .seconds(5), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.port = port
        self.timeout = timeout
        self.group = group
    }

    /// The distribution port of `name` on `host`, or nil when no such node is registered.
    public func lookup(name: String, host: String) async throws(DistributionError) -> EPMDProtocol.NodeEntry? {
        let reply = try await exchange(host: host, request: EPMDProtocol.portPleaseRequest(name: name))
        return try EPMDProtocol.parsePortPleaseResponse(reply)
    }

    /// The names registered on `host` with their ports.
    public func names(host: String) async throws(DistributionError) -> [String: Int] {
        let reply = try await exchange(host: host, request: EPMDProtocol.namesRequestBytes())
        return try EPMDProtocol.parseNamesResponse(reply)
    }

    /// Registers `name` as listening on `listenPort`; returns the creation EPMD assigned and the
    /// channel whose closing unregisters the name.
    func register(name: String, listenPort: Int, hidden: Bool) async throws(DistributionError) -> (creation: UInt32, channel: any Channel) {
        let collector = ReplyCollector { bytes in
            // Complete once parsed, or as soon as it is clearly an error.
            switch Result(catching: { () throws(DistributionError) in try EPMDProtocol.parseAliveResponse(bytes, name: name) }) {
            case .success(let creation): return creation != nil
            case .failure: return true
            }
        }
        let (channel, reply) = try await run(host: "127.0.0.1", request: EPMDProtocol.aliveRequest(name: name, port: listenPort, hidden: hidden), collector: collector)
        let parsed = Result { () throws(DistributionError) in try EPMDProtocol.parseAliveResponse(reply, name: name) }
        guard case .success(let creation?) = parsed else {
            try? await channel.close()
            if case .failure(let error) = parsed { throw error }
            throw .epmdProtocol("EPMD closed the registration without an answer")
        }
        return (creation, channel)
    }

    private func exchange(host: String, request: [UInt8]) async throws(DistributionError) -> [UInt8] {
        let (channel, reply) = try await run(host: host, request: request, collector: ReplyCollector(isComplete: { _ in false }))
        try? await channel.close()
        return reply
    }

    private func run(host: String, request: [UInt8], collector: ReplyCollector) async throws(DistributionError) -> (any Channel, [UInt8]) {
        let port = self.port
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw .epmdUnreachable(host: host, port: port, reason: "\(error)")
        }
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: request))
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                collector.fail(DistributionError.timeout("EPMD at \(host):\(port) did not answer"))
            }
            defer { deadline.cancel() }
            let reply = try await collector.reply(on: channel.eventLoop).get()
            return (channel, reply)
        } catch let error as DistributionError {
            try? await channel.close()
            throw error
        } catch {
            try? await channel.close()
            throw .epmdUnreachable(host: host, port: port, reason: "\(error)")
        }
    }
}

/// Collects EPMD's reply until `isComplete` says so or EPMD closes the connection.
private final class ReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let isComplete: @Sendable ([UInt8]) -> Bool
    private var bytes: [UInt8] = []
    private var promise: EventLoopPromise<[UInt8]>?
    private var result: Result<[UInt8], any Error>?

    init(isComplete: @escaping @Sendable ([UInt8]) -> Bool) { self.isComplete = isComplete }

    func reply(on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        eventLoop.flatSubmit {
            if let result = self.result { return eventLoop.makeCompletedFuture(result) }
            let promise = eventLoop.makePromise(of: [UInt8].self)
            self.promise = promise
            return promise.futureResult
        }
    }

    func fail(_ error: any Error) { finish(.failure(error)) }

    private func finish(_ result: Result<[UInt8], any Error>) {
        guard self.result == nil else { return }
        self.result = result
        promise?.completeWith(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += Array(unwrapInboundIn(data).readableBytesView)
        if isComplete(bytes) { finish(.success(bytes)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.success(bytes))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }
}
