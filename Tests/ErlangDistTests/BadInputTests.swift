@testable import ErlangDist
import ErlangTerm
import NIOCore
import NumbatTestSupport
import Testing

/// Wrong cookies, missing nodes and peers that send garbage: each gives a typed, readable error
/// in bounded time, and the local node keeps serving everyone else.
@Suite("bad input: cookies, names, garbage handshakes and frames")
struct BadInputTests {
    // MARK: Dialling out

    @Test("a wrong cookie is an authentication error", .timeLimit(.minutes(5)), arguments: OTPRelease.installed)
    func wrongCookie(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            // The typed error is the event; its time is `numbat-bench --only timings`'s figure.
            let local = try makeLocalNode(cookie: "not-the-cookie")
            await expectError(try await local.connect(to: peer.name)) {
                if case .authenticationFailed(let node) = $0 { node == peer.name && $0.description.contains("cookie") } else { false }
            }
            #expect(local.statistics == .init(connections: 0, mailboxes: 0, pendingReplies: 0, registeredNames: 0))
            await local.shutdown()
            // The node itself is unharmed.
            let good = try makeLocalNode(cookie: peer.cookie)
            #expect(try await good.rpc(peer.name, "erlang", "node") == .atom(Atom(peer.name.description)))
            await good.shutdown()
        }
    }

    @Test("an unknown node, an unreachable EPMD and a dead port each say what is wrong")
    func unreachable() async throws {
        let local = try makeLocalNode()
        defer { Task { await local.shutdown() } }
        await expectError(try await local.connect(to: "nosuchnode\(UInt32.random(in: 0...UInt32.max))@127.0.0.1")) {
            if case .nodeNotRegistered = $0 { true } else { false }
        }
        await expectError(try await local.rpc("bad name@127.0.0.1", "erlang", "node")) {
            if case .invalidNodeName = $0 { true } else { false }
        }

        var noEPMD = LocalNode.Configuration(name: "swift\(UInt32.random(in: 0...UInt32.max))", cookie: "c")
        noEPMD.epmdPort = try Self.deadPort()
        let lonely = try LocalNode(noEPMD)
        await expectError(try await lonely.connect(to: "any@127.0.0.1")) {
            if case .epmdUnreachable = $0 { true } else { false }
        }
        await lonely.shutdown()

        // A name registered with EPMD whose port has nothing listening.
        let ghost = "ghost\(UInt32.random(in: 0...UInt32.max))"
        let registration = try await EPMDClient().register(name: ghost, listenPort: try Self.deadPort(), hidden: true)
        await expectError(try await local.connect(to: "\(ghost)@127.0.0.1")) {
            if case .connectionFailed(_, let reason) = $0 { reason.lowercased().contains("refused") } else { false }
        }
        try await registration.channel.close()
        #expect(local.statistics.connections == 0)
    }

    /// What a fake peer does after reading our `send_name`.
    enum FakePeerScript: String, CaseIterable, Sendable {
        case unknownMessage, refused, truncatedThenSilent, closesAtOnce, wrongName, missingFlags, wrongAckDigest
    }

    @Test("a peer that answers the handshake wrongly gives a typed error in bounded time", .timeLimit(.minutes(1)), arguments: FakePeerScript.allCases)
    func fakePeer(script: FakePeerScript) async throws {
        var configuration = LocalNode.Configuration(name: "swift\(UInt32.random(in: 0...UInt32.max))", cookie: "cookie")
        configuration.connectTimeout = .seconds(1)
        let local = try LocalNode(configuration)
        let listener = try RawListener()
        let fake = NodeName(alive: "fake\(UInt32.random(in: 0...UInt32.max))", host: "127.0.0.1")
        let registration = try await EPMDClient().register(name: fake.alive, listenPort: listener.port, hidden: true)
        let peer = Task { try await offPool { try Self.play(script, on: listener, as: fake, cookie: "cookie") } }
        // Bounded by connectTimeout (1 s) and the test's time limit; the time itself is
        // `numbat-bench --only timings`'s figure.
        var caught: DistributionError?
        do { try await local.connect(to: fake) } catch { caught = error }
        try await peer.value
        try await registration.channel.close()
        await local.shutdown()

        let error = try #require(caught)
        #expect(!error.description.isEmpty)
        switch (script, error) {
        case (.unknownMessage, .handshakeProtocol(let why)): #expect(why.contains("unexpected message"))
        case (.refused, .handshakeRejected(_, let status)): #expect(status == "not_allowed")
        case (.truncatedThenSilent, .timeout): break
        case (.closesAtOnce, .connectionFailed): break
        case (.wrongName, .handshakeProtocol(let why)): #expect(why.contains("answered"))
        case (.missingFlags, .missingFlags(let node, _)): #expect(node == fake)
        case (.wrongAckDigest, .authenticationFailed(let node)): #expect(node == fake)
        default: Issue.record("\(script) gave \(error)")
        }
    }

    private static func play(_ script: FakePeerScript, on listener: RawListener, as fake: NodeName, cookie: String) throws {
        let socket = try listener.accept()
        let length = try socket.read(2)
        _ = try socket.read(Int(length[0]) << 8 | Int(length[1]))
        func message(_ body: [UInt8]) throws { try socket.write([UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body) }
        func challenge(name: String, flags: DistributionFlags) throws {
            var body: [UInt8] = [UInt8(ascii: "N")]
            body.append(uint64: flags.rawValue)
            body.append(uint32: 42)
            body.append(uint32: 7)
            body.append(string16: name)
            try message(body)
        }
        switch script {
        case .unknownMessage: try message(Array("xyzw".utf8))
        case .refused: try message(Array("snot_allowed".utf8))
        case .truncatedThenSilent: try socket.write([0, 20, UInt8(ascii: "s")])
        case .closesAtOnce: return
        case .wrongName:
            try message(Array("sok".utf8))
            try challenge(name: "someone-else@127.0.0.1", flags: .numbat)
        case .missingFlags:
            try message(Array("sok".utf8))
            try challenge(name: fake.description, flags: .published)
        case .wrongAckDigest:
            try message(Array("sok".utf8))
            try challenge(name: fake.description, flags: .numbat)
            _ = try socket.read(2 + 1 + 4 + 16)
            try message([UInt8(ascii: "a")] + [UInt8](repeating: 0, count: 16))
        }
        // Wait for the local node to give up and close. The waits in this suite are bounds, not
        // latencies (each returns at the close): wide, since the suite shares two cores with
        // two dozen others starting OTP nodes, where 3-5 s windows were once missed.
        _ = try socket.readUntilClosed(timeout: .seconds(20))
    }

    // MARK: Being dialled

    /// What a raw client sends to a listening Swift node.
    enum IncomingGarbage: String, CaseIterable, Sendable {
        case randomBytes, oldHandshakeVersion, truncatedName, invalidName, wrongCookie
    }

    @Test("an incoming connection sending garbage is closed; real nodes still get in", arguments: IncomingGarbage.allCases)
    func incomingGarbage(garbage: IncomingGarbage) async throws {
        var configuration = LocalNode.Configuration(name: "swift\(UInt32.random(in: 0...UInt32.max))", cookie: "numbat-test-cookie")
        configuration.connectTimeout = .seconds(1)
        let local = try LocalNode(configuration)
        let port = try await local.listen()
        let me = local.localName(for: NodeName(alive: "x", host: "127.0.0.1"))
        let closed = try await offPool { () throws -> Bool in
            let socket = try RawSocket.connect(port: port)
            switch garbage {
            case .randomBytes:
                var random = SystemRandomNumberGenerator()
                try socket.write((0..<300).map { _ in UInt8.random(in: 0...255, using: &random) })
            case .oldHandshakeVersion:
                try socket.write([0, 16, UInt8(ascii: "n"), 0, 5, 0, 0, 0x7F, 0xFF] + Array("a@127.0.0.1".utf8))
            case .truncatedName:
                try socket.write([0, 60, UInt8(ascii: "N"), 0, 0])
            case .invalidName:
                var body: [UInt8] = [UInt8(ascii: "N")]
                body.append(uint64: DistributionFlags.numbat.rawValue)
                body.append(uint32: 9)
                body.append(string16: "no at sign")
                try socket.write([UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body)
            case .wrongCookie:
                var handshake = Handshake(role: .initiator(expectedPeer: me.description), localName: "raw@127.0.0.1",
                                          flags: .numbat, creation: 9, cookie: "wrong")
                try RawPeer.send(handshake.start(), on: socket)
                for _ in 0..<2 {
                    for case .send(let reply) in try handshake.receive(try RawPeer.receive(on: socket)) {
                        try RawPeer.send(reply, on: socket)
                    }
                }
            }
            return try socket.readUntilClosed(timeout: .seconds(20)) != nil
        }
        #expect(closed, "the node closed the \(garbage) connection")
        #expect(local.statistics.connections == 0)
        // A real node still connects and calls.
        let output = try await ErlangScript.run(.otp25, "io:format(\"~p~n\", [net_adm:ping('\(me)')]), halt().",
                                                extraArgs: ["-name", "caller\(UInt32.random(in: 0...UInt32.max))@127.0.0.1", "-setcookie", "numbat-test-cookie"])
        #expect(output.contains("pong"))
        await local.shutdown()
    }

    /// A frame a broken peer sends after a good handshake.
    enum BadFrame: String, CaseIterable, Sendable {
        case badVersion, garbageTerm, oversized, unknownOperation, controlNotATuple, truncatedTerm
    }

    @Test("a malformed frame closes that connection with a clear reason; others carry on", arguments: BadFrame.allCases)
    func malformedFrame(frame: BadFrame) async throws {
        let local = try makeLocalNode()
        let port = try await local.listen()
        let mailbox = try local.makeMailbox(name: "inbox")
        let me = local.localName(for: NodeName(alive: "x", host: "127.0.0.1"))
        let raw = NodeName(alive: "raw\(UInt32.random(in: 0...UInt32.max))", host: "127.0.0.1")
        let events = local.nodeEvents()
        let socket = try await offPool { try RawPeer.connect(port: port, to: me, as: raw, cookie: "numbat-test-cookie") }
        // First a good message, so the raw peer is known to work.
        let sender = Pid(node: raw.atom, id: 1, serial: 0, creation: 9)
        try await offPool { try RawPeer.send(frame: .regSend(from: sender, to: "inbox", message: "hello"), on: socket) }
        #expect(try await mailbox.receive(timeout: .seconds(5)) == .message("hello", from: sender))

        let bytes: [UInt8] = switch frame {
        case .badVersion: [0, 0, 0, 3, 99, 1, 2]
        case .garbageTerm: [0, 0, 0, 6, 131, 68, 0, 255, 255, 255]
        case .oversized: [0x7F, 0xFF, 0xFF, 0xFF, 131]
        case .unknownOperation: RawPeer.frame(control: .tuple([99]), payload: nil)
        case .controlNotATuple: RawPeer.frame(control: .atom("hello"), payload: nil)
        case .truncatedTerm: [0, 0, 0, 7, 131, 68, 0, 104, 3, 97, 2]
        }
        let closed = try await offPool { () throws -> Bool in
            try socket.write(bytes)
            return try socket.readUntilClosed(timeout: .seconds(20)) != nil
        }
        #expect(closed)
        let down = await nextEvent(events, within: .seconds(20)) { if case .down = $0 { true } else { false } }
        guard case .down(let node, let reason) = down else {
            Issue.record("no down event")
            return
        }
        #expect(node == raw)
        #expect(reason.contains("malformed") || reason.contains("exceeds"), "\(reason)")
        #expect(local.statistics.connections == 0)
        #expect(!mailbox.isClosed)
        await local.shutdown()
    }
}

/// Awaits `body` and expects it to throw a `DistributionError` matching `matches`.
func expectError(_ body: @autoclosure () async throws(DistributionError) -> some Any,
                 sourceLocation: SourceLocation = #_sourceLocation,
                 _ matches: (DistributionError) -> Bool) async
{
    do {
        _ = try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
    } catch {
        #expect(matches(error), "got \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
    }
}

extension BadInputTests {
    /// A port on 127.0.0.1 with nothing listening (bound, then closed).
    static func deadPort() throws -> Int {
        let listener = try RawListener()
        return listener.port
    }
}

/// A hand-driven distribution peer over a `RawSocket`: the real `Handshake` state machine, then
/// whatever frames a test writes.
enum RawPeer {
    static func connect(port: Int, to node: NodeName, as name: NodeName, cookie: String) throws -> RawSocket {
        let socket = try RawSocket.connect(port: port)
        var handshake = Handshake(role: .initiator(expectedPeer: node.description), localName: name.description,
                                  flags: .numbat, creation: 9, cookie: cookie)
        try send(handshake.start(), on: socket)
        while !handshake.isComplete {
            for case .send(let reply) in try handshake.receive(try receive(on: socket)) {
                try send(reply, on: socket)
            }
        }
        return socket
    }

    static func send(_ message: [UInt8], on socket: RawSocket) throws {
        try socket.write([UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message)
    }

    static func receive(on socket: RawSocket) throws -> [UInt8] {
        let length = try socket.read(2)
        return try socket.read(Int(length[0]) << 8 | Int(length[1]))
    }

    static func send(frame message: ControlMessage, on socket: RawSocket) throws {
        let (control, payload) = message.encoded(flags: .numbat)
        try socket.write(frame(control: control, payload: payload))
    }

    static func frame(control: Term, payload: Term?) -> [UInt8] {
        var buffer = ByteBuffer()
        DistributionFrameEncoder().encode(control: control, payload: payload, into: &buffer) { 1 }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}
