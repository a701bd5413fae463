@testable import ErlangDist
import ErlangTerm
import NIOCore
import NIOEmbedded
import Testing

/// The connection's I/O shell on `EmbeddedChannel`: bytes in any split, the exact bytes it
/// writes, and time moved by hand with `EmbeddedEventLoop.advanceTime`, so handshake timeouts,
/// ticks, dead peers and fragment expiry are tested without sleeping.
@Suite("channel handler on EmbeddedChannel: framing, handshake, ticks, fragments")
struct ChannelHandlerTests {
    typealias H = HandshakeStateTests

    static let settings = DistributionChannelHandler.Settings(
        tickInterval: .seconds(15), handshakeTimeout: .seconds(7), maxFrameSize: 1 << 20,
        fragmentSize: 64 * 1024, fragmentTimeout: .seconds(60))

    /// One handler on an active embedded channel, and what it reported.
    struct Harness {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let recorder: ConnectionRecorder

        /// Everything the handler wrote since the last call, as one byte string.
        func written() throws -> [UInt8] {
            var bytes: [UInt8] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
            return bytes
        }

        /// Delivers `bytes` in reads of `chunk` bytes.
        func feed(_ bytes: [UInt8], chunk: Int = .max) throws {
            var start = 0
            while start < bytes.count {
                let end = min(start + chunk, bytes.count)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[start..<end]))
                start = end
            }
        }

        func finish() {
            _ = try? channel.finish()
        }
    }

    static func harness(initiator: Bool, cookie: String = H.cookie, handshakeLengthBytes: Int = 2) throws -> Harness {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let recorder = ConnectionRecorder()
        let established = loop.makePromise(of: NodeConnection.self)
        recorder.watch(established.futureResult)
        let handler = DistributionChannelHandler(
            handshake: initiator ? H.initiator(cookie: cookie) : H.acceptor(cookie: cookie),
            dialled: initiator ? try NodeName(H.peerName) : nil,
            settings: { var tuned = settings; tuned.handshakeLengthBytes = handshakeLengthBytes; return tuned }(),
            delegate: recorder, established: established)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4370)).wait()
        return Harness(loop: loop, channel: channel, recorder: recorder)
    }

    /// A harness whose handshake (as acceptor) is done and whose handshake bytes are read.
    static func connected() throws -> Harness {
        let harness = try harness(initiator: false)
        try harness.feed(frame16(H.sendName(flags: H.peerFlags, creation: 7, name: H.peerName)))
        try harness.feed(frame16([UInt8(ascii: "r")] + H.be(H.peerChallenge) + H.digest(H.cookie, H.ourChallenge)))
        _ = try harness.written()
        #expect(harness.recorder.established.count == 1)
        return harness
    }

    static func frame16(_ body: [UInt8]) -> [UInt8] { [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body }
    static func frame32(_ body: [UInt8]) -> [UInt8] { Array(H.be(UInt32(body.count))) + body }
    static let tick: [UInt8] = [0, 0, 0, 0]

    static let sender = Pid(node: Atom(H.peerName), id: 1, serial: 0, creation: 7)

    /// `{6, From, '', Name}` and its payload, as terms without version bytes.
    static func regSendBody(to name: String, message: Term) -> [UInt8] {
        var encoder = TermEncoder()
        encoder.encode(.tuple([.integer(6), .pid(sender), .atom(""), .atom(Atom(name))]))
        encoder.encode(message)
        return encoder.bytes
    }

    /// A whole `REG_SEND` frame with a header without cache refs.
    static func regSend(to name: String, message: Term) -> [UInt8] {
        frame32([131, 68, 0] + regSendBody(to: name, message: message))
    }

    // MARK: Handshake

    /// Over TCP the handshake's frames have 2-byte lengths; over TLS distribution 4-byte ones
    /// (`inet_tls_dist` runs the connection with `{packet, 4}`, and a node sent 2-byte frames
    /// waits for one that never completes).
    @Test("initiator: send_name on connect, then reply and completion with bytes arriving one at a time, in TCP's and TLS's framing",
          arguments: [2, 4])
    func initiatorHandshake(lengthBytes: Int) throws {
        let harness = try Self.harness(initiator: true, handshakeLengthBytes: lengthBytes)
        defer { harness.finish() }
        let frame = lengthBytes == 4 ? Self.frame32 : Self.frame16
        #expect(try harness.written() == frame(H.sendName(flags: H.numbatFlags, creation: 9, name: H.localName)))

        let answer = frame(Array("sok".utf8)) + frame(H.challenge(flags: H.peerFlags, challenge: H.peerChallenge, creation: 3, name: H.peerName))
        try harness.feed(answer, chunk: 1)
        #expect(try harness.written() == frame([UInt8(ascii: "r")] + H.be(H.ourChallenge) + H.digest(H.cookie, H.peerChallenge)))
        #expect(!harness.recorder.handshakeSucceeded)

        try harness.feed(frame([UInt8(ascii: "a")] + H.digest(H.cookie, H.ourChallenge)), chunk: 1)
        #expect(harness.recorder.handshakeSucceeded)
        let connection = try #require(harness.recorder.established.first)
        #expect(connection.peer.description == H.peerName)
        #expect(connection.peerCreation == 3)
        #expect(connection.localName == Atom(H.localName))
        #expect(connection.flags.rawValue == H.numbatFlags & H.peerFlags)
        #expect(try harness.written() == [])
    }

    @Test("over TLS framing, a 2-byte frame (a peer not on TLS distribution) is no handshake: the channel closes")
    func plainFrameOverTLS() throws {
        let harness = try Self.harness(initiator: true, handshakeLengthBytes: 4)
        defer { harness.finish() }
        _ = try harness.written()
        try harness.feed(Self.frame16(Array("sok".utf8)) + [0, 0])
        #expect(!harness.recorder.handshakeSucceeded && !harness.channel.isActive)
    }

    @Test("acceptor: status and challenge, then the ack, as exact frames")
    func acceptorHandshake() throws {
        let harness = try Self.harness(initiator: false)
        defer { harness.finish() }
        #expect(try harness.written() == [])
        try harness.feed(Self.frame16(H.sendName(flags: H.peerFlags, creation: 7, name: H.peerName)))
        #expect(try harness.written() == Self.frame16(Array("sok".utf8))
            + Self.frame16(H.challenge(flags: H.numbatFlags, challenge: H.ourChallenge, creation: 9, name: H.localName)))
        // The reply and a first frame in one read: the frame is handled once connected.
        try harness.feed(Self.frame16([UInt8(ascii: "r")] + H.be(H.peerChallenge) + H.digest(H.cookie, H.ourChallenge))
            + Self.regSend(to: "inbox", message: .atom("early")))
        #expect(try harness.written() == Self.frame16([UInt8(ascii: "a")] + H.digest(H.cookie, H.peerChallenge)))
        #expect(harness.recorder.handshakeSucceeded)
        #expect(harness.recorder.messages == [.regSend(from: Self.sender, to: "inbox", message: .atom("early"))])
    }

    @Test("acceptor: a wrong digest closes the channel with an authentication failure")
    func acceptorBadDigest() throws {
        let harness = try Self.harness(initiator: false)
        defer { harness.finish() }
        try harness.feed(Self.frame16(H.sendName(flags: H.peerFlags, creation: 7, name: H.peerName)))
        _ = try harness.written()
        try harness.feed(Self.frame16([UInt8(ascii: "r")] + H.be(H.peerChallenge) + H.digest("other", H.ourChallenge)))
        #expect(!harness.channel.isActive)
        #expect(try harness.written() == [], "no ack for a wrong digest")
        guard case .authenticationFailed(let node) = harness.recorder.handshakeFailure else {
            Issue.record("got \(String(describing: harness.recorder.handshakeFailure))")
            return
        }
        #expect(node.description == H.peerName)
        #expect(harness.recorder.established.isEmpty)
    }

    @Test("initiator: a peer lacking mandatory flags closes the channel with missingFlags")
    func initiatorMissingFlags() throws {
        let harness = try Self.harness(initiator: true)
        defer { harness.finish() }
        _ = try harness.written()
        let lacking = DistributionFlags(rawValue: H.peerFlags).subtracting([.bigCreation, .mandatory25Digest])
        try harness.feed(Self.frame16(Array("sok".utf8))
            + Self.frame16(H.challenge(flags: lacking.rawValue, challenge: 1, creation: 1, name: H.peerName)))
        #expect(!harness.channel.isActive)
        guard case .missingFlags(_, let missing) = harness.recorder.handshakeFailure else {
            Issue.record("got \(String(describing: harness.recorder.handshakeFailure))")
            return
        }
        #expect(missing == .bigCreation)
    }

    @Test("initiator: a peer that closes after our reply rejected our cookie")
    func initiatorClosedAwaitingAck() throws {
        let harness = try Self.harness(initiator: true, cookie: "wrong")
        defer { harness.finish() }
        try harness.feed(Self.frame16(Array("sok".utf8))
            + Self.frame16(H.challenge(flags: H.peerFlags, challenge: 1, creation: 1, name: H.peerName)))
        harness.channel.close(promise: nil)
        guard case .authenticationFailed = harness.recorder.handshakeFailure else {
            Issue.record("got \(String(describing: harness.recorder.handshakeFailure))")
            return
        }
    }

    @Test("a handshake that stalls times out at the handshake timeout, not before")
    func handshakeTimeout() throws {
        let harness = try Self.harness(initiator: true)
        defer { harness.finish() }
        // Half a status message, then nothing.
        try harness.feed([0, 3, UInt8(ascii: "s")])
        harness.loop.advanceTime(by: .seconds(6))
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .seconds(1))
        #expect(!harness.channel.isActive)
        guard case .timeout = harness.recorder.handshakeFailure else {
            Issue.record("got \(String(describing: harness.recorder.handshakeFailure))")
            return
        }
    }

    // MARK: Frames

    @Test("frames split anywhere, length prefixes included, are put back together", arguments: [1, 2, 3, 5, 7, 64])
    func splitFrames(chunk: Int) throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        let bytes = Self.regSend(to: "inbox", message: .atom("one")) + Self.regSend(to: "inbox", message: .binary(Array(repeating: 7, count: 300)))
        try harness.feed(bytes, chunk: chunk)
        #expect(harness.recorder.messages == [
            .regSend(from: Self.sender, to: "inbox", message: .atom("one")),
            .regSend(from: Self.sender, to: "inbox", message: .binary(Array(repeating: 7, count: 300))),
        ])
        #expect(harness.channel.isActive)
    }

    @Test("a tick between frames is no message; we answer it, having sent nothing")
    func ticksBetweenFrames() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        try harness.feed(Self.regSend(to: "a", message: 1) + Self.tick + Self.regSend(to: "b", message: 2), chunk: 3)
        #expect(harness.recorder.messages.count == 2)
        #expect(try harness.written() == Self.tick)
    }

    @Test("a frame longer than maxFrameSize closes the connection on its length alone")
    func oversizedFrame() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        // 1 MiB + 1: only the length prefix is needed to refuse it.
        try harness.feed([0x00, 0x10, 0x00, 0x01, 131])
        #expect(!harness.channel.isActive)
        guard case .malformedFrame(let why) = harness.recorder.lost.first else {
            Issue.record("got \(harness.recorder.lost)")
            return
        }
        #expect(why.contains("exceeds"))
    }

    @Test("a frame that does not decode closes the connection with malformedFrame")
    func malformedFrame() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        try harness.feed(Self.frame32([99, 1, 2]))
        #expect(!harness.channel.isActive)
        guard case .malformedFrame = harness.recorder.lost.first else {
            Issue.record("got \(harness.recorder.lost)")
            return
        }
        #expect(harness.recorder.lost.count == 1)
    }

    // MARK: Ticks

    @Test("an idle connection sends a tick every interval and lives while the peer ticks")
    func idleTicks() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        for _ in 0..<12 {
            harness.loop.advanceTime(by: .seconds(14))
            #expect(try harness.written() == [])
            harness.loop.advanceTime(by: .seconds(1))
            #expect(try harness.written() == Self.tick)
            // The peer's tick needs no answer: ours just went out.
            try harness.feed(Self.tick)
            #expect(try harness.written() == [])
        }
        #expect(harness.channel.isActive)
        #expect(harness.recorder.lost.isEmpty)
    }

    @Test("a silent peer is dropped with tickTimeout at the fourth silent interval")
    func silentPeer() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        harness.loop.advanceTime(by: .seconds(45))
        #expect(harness.channel.isActive)
        #expect(try harness.written() == Self.tick + Self.tick + Self.tick)
        harness.loop.advanceTime(by: .seconds(15))
        #expect(!harness.channel.isActive)
        guard case .tickTimeout(let node) = harness.recorder.lost.first else {
            Issue.record("got \(harness.recorder.lost)")
            return
        }
        #expect(node.description == H.peerName)
    }

    @Test("a message we send in an interval replaces that interval's tick")
    func ownTrafficSuppressesTick() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        let connection = try #require(harness.recorder.established.first)
        harness.loop.advanceTime(by: .seconds(5))
        connection.send(.regSend(from: Self.sender, to: "x", message: 1))
        harness.loop.run()
        let sent = try harness.written()
        // A header frame listing its three atoms (the sender's node, '' and x) by reference.
        #expect(sent.count > 6 && Array(sent[4...6]) == [131, 68, 3])
        try harness.feed(Self.tick)
        #expect(try harness.written() == [], "no answer: we sent since the peer's last tick")
        harness.loop.advanceTime(by: .seconds(10))
        #expect(try harness.written() == [], "no tick: the message went out in this interval")
        harness.loop.advanceTime(by: .seconds(15))
        #expect(try harness.written() == Self.tick)
    }

    // MARK: Fragments

    /// `131, 69` (first) or `131, 70` (rest) fragment frames of one message, in sending order.
    static func fragments(_ body: [UInt8], sequence: UInt64, count: Int) -> [[UInt8]] {
        FrameReceiverTests.pieces(body, count).enumerated().map { index, piece in
            let id = UInt64(count - index)
            return frame32(index == 0 ? FrameReceiverTests.first(sequence, id, piece) : FrameReceiverTests.rest(sequence, id, piece))
        }
    }

    @Test("fragments arriving across reads, out of order and between ticks, make one message")
    func fragmentsAcrossReads() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        let message: Term = .binary((0..<5000).map { UInt8(truncatingIfNeeded: $0) })
        let frames = Self.fragments(Self.regSendBody(to: "big", message: message), sequence: 11, count: 4)
        try harness.feed(frames[0] + Self.tick + frames[2], chunk: 100)
        try harness.feed(frames[3] + Self.regSend(to: "small", message: 1), chunk: 1000)
        #expect(harness.recorder.messages == [.regSend(from: Self.sender, to: "small", message: 1)])
        try harness.feed(frames[1], chunk: 7)
        #expect(harness.recorder.messages.last == .regSend(from: Self.sender, to: "big", message: message))
        #expect(harness.recorder.messages.count == 2)
    }

    @Test("a fragmented message whose fragments stop arriving is dropped after fragmentTimeout")
    func fragmentExpiry() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        let frames = Self.fragments(Self.regSendBody(to: "lost", message: .binary(Array(repeating: 1, count: 900))), sequence: 5, count: 3)
        try harness.feed(frames[0] + frames[1])
        // Four intervals (60 s): the peer ticks, so only the message is idle; not yet expired.
        for _ in 0..<4 {
            try harness.feed(Self.tick)
            harness.loop.advanceTime(by: .seconds(15))
        }
        try harness.feed(Self.tick)
        // The fifth interval's check is past 60 s since the last fragment: expired.
        harness.loop.advanceTime(by: .seconds(15))
        try harness.feed(frames[2])
        #expect(harness.recorder.messages.isEmpty, "the expired message's last fragment delivers nothing")
        #expect(harness.channel.isActive)
        // The connection carries on.
        try harness.feed(Self.regSend(to: "after", message: 2))
        #expect(harness.recorder.messages == [.regSend(from: Self.sender, to: "after", message: 2)])
    }

    @Test("a fragmented message still within fragmentTimeout is delivered")
    func fragmentNotExpired() throws {
        let harness = try Self.connected()
        defer { harness.finish() }
        let message: Term = .binary(Array(repeating: 2, count: 900))
        let frames = Self.fragments(Self.regSendBody(to: "slow", message: message), sequence: 6, count: 3)
        try harness.feed(frames[0])
        for _ in 0..<3 {
            try harness.feed(Self.tick)
            harness.loop.advanceTime(by: .seconds(15))
        }
        try harness.feed(frames[1])
        for _ in 0..<3 {
            try harness.feed(Self.tick)
            harness.loop.advanceTime(by: .seconds(15))
        }
        try harness.feed(frames[2])
        #expect(harness.recorder.messages == [.regSend(from: Self.sender, to: "slow", message: message)])
    }
}
