import ErlangTerm
import NIOCore
import NIOSSL

/// The I/O shell of one distribution connection: frames the handshake (2-byte lengths) and
/// then the connection (4-byte lengths), drives `Handshake`, `DistributionFrameReceiver` and
/// `TickState`, and hands decoded control messages to the local node on the event loop.
final class DistributionChannelHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Receives what the connection learns; implemented by `LocalNode`.
    protocol Delegate: AnyObject, Sendable {
        func connectionEstablished(_ connection: NodeConnection)
        func connection(_ connection: NodeConnection, received message: ControlMessage)
        /// A message to a pid that wants it flat (`LocalNode.flatReplySerial`: a one-shot reply
        /// pid, or a mailbox made with `flat: true`), from `sender` when the frame names it.
        func connection(_ connection: NodeConnection, received message: FlatTerm, to pid: Pid, from sender: Pid?)
        func connectionLost(_ connection: NodeConnection, reason: DistributionError)
    }

    private enum Phase {
        case handshaking(Handshake)
        case connected(NodeConnection)
        case closed
    }

    struct Settings {
        var tickInterval: TimeAmount
        var handshakeTimeout: TimeAmount
        var maxFrameSize: Int
        var fragmentSize: Int
        /// How long a fragmented message may go without a new fragment before it is dropped.
        var fragmentTimeout: TimeAmount
        /// The length prefix of handshake messages: 2 bytes over TCP; 4 over TLS distribution
        /// (`inet_tls_dist` runs its whole connection with `{packet, 4}`).
        var handshakeLengthBytes = 2
    }

    private var phase: Phase
    private let settings: Settings
    private weak var delegate: (any Delegate)?
    /// Completed once the handshake succeeds or fails.
    let established: EventLoopPromise<NodeConnection>
    /// The peer we dialled, for error messages; nil when accepting.
    private let dialled: NodeName?
    /// Bytes of a frame not yet complete, carried to the next read; empty (no storage) between
    /// frames. See `channelRead`.
    private var buffer = ByteBuffer()
    private var receiver = DistributionFrameReceiver()
    private var ticks = TickState()
    private var tickTask: RepeatedTask?
    private var handshakeDeadline: Scheduled<Void>?
    private var failure: DistributionError?

    init(handshake: Handshake, dialled: NodeName?, settings: Settings, delegate: any Delegate, established: EventLoopPromise<NodeConnection>) {
        self.phase = .handshaking(handshake)
        self.dialled = dialled
        self.settings = settings
        self.delegate = delegate
        self.established = established
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard handshakeDeadline == nil, case .handshaking(var handshake) = phase else { return }
        handshakeDeadline = context.eventLoop.scheduleTask(in: settings.handshakeTimeout) { [self] in
            fail(.timeout("distribution handshake with \(dialled?.description ?? "an incoming peer")"), context: context)
        }
        if dialled != nil {
            let first = handshake.start()
            phase = .handshaking(handshake)
            writeHandshakeMessage(first, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        tickTask?.cancel()
        handshakeDeadline?.cancel()
        switch phase {
        case .handshaking(let handshake):
            let reason: DistributionError
            if let failure {
                reason = failure
            } else if handshake.isAwaitingAck, let dialled {
                reason = .authenticationFailed(dialled)
            } else if let dialled {
                reason = .connectionFailed(dialled, reason: "the peer closed the connection during the handshake (as a node on TLS distribution does to a plain connection: it needs its TLS certificates)")
            } else {
                reason = .handshakeProtocol("the peer closed the connection during the handshake")
            }
            established.fail(reason)
        case .connected(let connection):
            delegate?.connectionLost(connection, reason: failure ?? .connectionClosed(connection.peer))
        case .closed:
            break
        }
        phase = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOSSLError {
            return fail(.tls(error, peer: dialled), context: context)
        }
        fail(error as? DistributionError ?? .connectionFailed(dialled ?? NodeName(alive: "?", host: "?"), reason: "\(error)"), context: context)
    }

    private func fail(_ error: DistributionError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        ticks.dataSent()
        context.write(data, promise: promise)
    }

    private func writeHandshakeMessage(_ message: [UInt8], context: ChannelHandlerContext) {
        var frame = context.channel.allocator.buffer(capacity: message.count + settings.handshakeLengthBytes)
        if settings.handshakeLengthBytes == 4 {
            frame.writeInteger(UInt32(message.count))
        } else {
            frame.writeInteger(UInt16(message.count))
        }
        frame.writeBytes(message)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func writeTick(context: ChannelHandlerContext) {
        var frame = context.channel.allocator.buffer(capacity: 4)
        frame.writeInteger(UInt32(0))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        let carried = buffer.readableBytes > 0
        if carried {
            buffer.writeBuffer(&incoming)
        } else {
            buffer = incoming
        }
        do {
            try process(context: context)
        } catch {
            fail(error, context: context)
        }
        // `incoming` is the channel's pooled receive buffer. Holding on to it (even cleared)
        // makes the channel allocate another for its next read, so every idle connection
        // would keep two or three of them. Between frames nothing is kept; the start of an
        // incomplete frame is copied out, into a buffer of its own that later reads append to.
        if buffer.readableBytes == 0 {
            buffer = ByteBuffer()
        } else if carried {
            buffer.discardReadBytes()
        } else {
            var rest = context.channel.allocator.buffer(capacity: buffer.readableBytes)
            rest.writeBuffer(&buffer)
            buffer = rest
        }
    }

    private func process(context: ChannelHandlerContext) throws(DistributionError) {
        while true {
            switch phase {
            case .handshaking(var handshake):
                let prefix = settings.handshakeLengthBytes
                let announced = prefix == 4
                    ? buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map(Int.init)
                    : buffer.getInteger(at: buffer.readerIndex, as: UInt16.self).map(Int.init)
                guard let length = announced else { return }
                // No handshake message comes near this; a larger length is not a handshake.
                guard length <= 65535 else { throw .handshakeProtocol("a handshake message of \(length) bytes") }
                guard buffer.readableBytes >= prefix + length else { return }
                buffer.moveReaderIndex(forwardBy: prefix)
                let message = buffer.readBytes(length: length)!
                let actions = try handshake.receive(message)
                phase = .handshaking(handshake)
                for action in actions {
                    switch action {
                    case .send(let reply):
                        writeHandshakeMessage(reply, context: context)
                    case .complete(let outcome):
                        try becomeConnected(outcome, localName: handshake.localName, context: context)
                    }
                }
            case .connected(let connection):
                guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return }
                guard length <= settings.maxFrameSize else {
                    throw .malformedFrame("frame of \(length) bytes exceeds the \(settings.maxFrameSize)-byte limit")
                }
                guard buffer.readableBytes >= 4 + Int(length) else { return }
                buffer.moveReaderIndex(forwardBy: 4)
                if length == 0 {
                    if ticks.tickReceived() == .sendTick { writeTick(context: context) }
                    continue
                }
                ticks.dataReceived()
                let view = buffer.readSlice(length: Int(length))!
                let result = view.withUnsafeReadableBytes { raw in
                    Result { () throws(DistributionError) in
                        try receiver.receive(raw, now: context.eventLoop.now) {
                            ControlMessage.sendTarget($0, serial: LocalNode.flatReplySerial) != nil
                        }
                    }
                }
                guard let received = try result.get() else { continue }
                if let flat = received.flatPayload,
                    let target = ControlMessage.sendTarget(received.control, serial: LocalNode.flatReplySerial) {
                    delegate?.connection(connection, received: flat, to: target, from: ControlMessage.sender(received.control))
                } else if let message = try ControlMessage(control: received.control, payload: received.payload) {
                    delegate?.connection(connection, received: message)
                }
            case .closed:
                return
            }
        }
    }

    private func becomeConnected(_ outcome: Handshake.Outcome, localName: String, context: ChannelHandlerContext) throws(DistributionError) {
        handshakeDeadline?.cancel()
        let peer = try NodeName(outcome.peerName)
        let connection = NodeConnection(
            peer: peer, peerCreation: outcome.peerCreation, localName: Atom(localName), flags: outcome.flags,
            channel: context.channel, fragmentSize: settings.fragmentSize)
        phase = .connected(connection)
        tickTask = context.eventLoop.scheduleRepeatedTask(initialDelay: settings.tickInterval, delay: settings.tickInterval) { [self] _ in
            switch ticks.intervalElapsed() {
            case .none: break
            case .sendTick:
                writeTick(context: context)
            case .peerDead:
                fail(.tickTimeout(peer), context: context)
            }
            receiver.expireSequences(idleSince: context.eventLoop.now - settings.fragmentTimeout)
        }
        delegate?.connectionEstablished(connection)
        established.succeed(connection)
    }
}
