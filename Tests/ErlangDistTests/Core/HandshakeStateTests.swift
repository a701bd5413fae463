import Crypto
@testable import ErlangDist
import Testing

/// The handshake state machine driven directly: fixed challenges and cookies in, exact bytes out,
/// in both roles. Expected bytes are spelt out here and digests computed here with
/// `Insecure.MD5`, never with the code under test, so a change on the wire fails a test.
@Suite("handshake state machine: exact bytes for fixed challenges")
struct HandshakeStateTests {
    static let localName = "numbat@127.0.0.1"
    static let peerName = "peer@127.0.0.1"
    static let cookie = "secret"
    /// What Numbat offers, as a literal: `DistributionFlags.numbat` must not drift unnoticed.
    static let numbatFlags: UInt64 = 0xD_07DF_7FBC
    /// Flags an OTP 26+ peer sends (mandatory set, published, fragments, spawn, alias, ...).
    static let peerFlags: UInt64 = 0xD_07DF_7FBD
    /// The challenge our injected generator hands out: 16909060 in decimal.
    static let ourChallenge: UInt32 = 0x0102_0304
    /// The peer's challenge: 3735928559 in decimal.
    static let peerChallenge: UInt32 = 0xDEAD_BEEF

    // MARK: Helpers computed independently of the code under test

    /// `MD5(Cookie ++ integer_to_list(Challenge))`, as `dist_util` computes it.
    static func digest(_ cookie: String, _ challenge: UInt32) -> [UInt8] {
        Array(Insecure.MD5.hash(data: Array((cookie + String(challenge)).utf8)))
    }

    static func be(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func be(_ value: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func name16(_ name: String) -> [UInt8] { [UInt8(name.utf8.count >> 8), UInt8(name.utf8.count & 0xFF)] + Array(name.utf8) }

    /// `send_name`: 'N', Flags:8, Creation:4, Nlen:2, Name.
    static func sendName(flags: UInt64, creation: UInt32, name: String) -> [UInt8] {
        [UInt8(ascii: "N")] + be(flags) + be(creation) + name16(name)
    }

    /// `challenge`: 'N', Flags:8, Challenge:4, Creation:4, Nlen:2, Name.
    static func challenge(flags: UInt64, challenge: UInt32, creation: UInt32, name: String) -> [UInt8] {
        [UInt8(ascii: "N")] + be(flags) + be(challenge) + be(creation) + name16(name)
    }

    static func initiator(cookie: String = HandshakeStateTests.cookie) -> Handshake {
        Handshake(role: .initiator(expectedPeer: peerName), localName: localName,
                  flags: DistributionFlags(rawValue: numbatFlags), creation: 9, cookie: cookie,
                  challenge: { ourChallenge })
    }

    static func acceptor(cookie: String = HandshakeStateTests.cookie, cookieForPeer: @escaping (String) -> String? = { _ in nil }) -> Handshake {
        Handshake(role: .acceptor, localName: "unused@host", flags: DistributionFlags(rawValue: numbatFlags), creation: 9,
                  cookie: cookie, nameForPeer: { _ in localName }, cookieForPeer: cookieForPeer,
                  challenge: { ourChallenge })
    }

    @Test("the digest helper itself matches known MD5 answers")
    func digestKnownAnswers() {
        // From `printf secret3735928559 | md5sum` and `printf secret16909060 | md5sum`.
        #expect(Self.digest("secret", Self.peerChallenge) == Self.hex("c3939b31d7a913d82e2ace09247c7b41"))
        #expect(Self.digest("secret", Self.ourChallenge) == Self.hex("24d92202cd3724fb37808c885f4e2298"))
    }

    @Test("Numbat offers exactly the flags it always has, and not PUBLISHED")
    func offeredFlags() {
        #expect(DistributionFlags.numbat.rawValue == Self.numbatFlags)
        #expect(!DistributionFlags.numbat.contains(.published))
        // DFLAG_DIST_MANDATORY of OTP 26+.
        #expect(DistributionFlags.mandatory25.union(.mandatory26).rawValue == 0x4_0307_0F94)
    }

    // MARK: Initiator

    @Test("initiator: send_name, reply and completion, byte for byte")
    func initiatorExactBytes() throws {
        var handshake = Self.initiator()
        #expect(handshake.start() == Self.sendName(flags: Self.numbatFlags, creation: 9, name: Self.localName))
        // 2 + 16 bytes of name, 1 + 8 + 4: nothing else in the message.
        #expect(Self.sendName(flags: Self.numbatFlags, creation: 9, name: Self.localName).count == 31)

        #expect(try handshake.receive(Array("sok".utf8)) == [])
        let actions = try handshake.receive(Self.challenge(flags: Self.peerFlags, challenge: Self.peerChallenge,
                                                           creation: 0x1122_3344, name: Self.peerName))
        let reply: [UInt8] = [UInt8(ascii: "r"), 0x01, 0x02, 0x03, 0x04] + Self.digest(Self.cookie, Self.peerChallenge)
        #expect(actions == [.send(reply)])
        #expect(reply.count == 21)
        #expect(handshake.isAwaitingAck)
        #expect(!handshake.isComplete)

        let done = try handshake.receive([UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.ourChallenge))
        let flags = DistributionFlags(rawValue: Self.numbatFlags & Self.peerFlags)
        #expect(done == [.complete(.init(peerName: Self.peerName, peerCreation: 0x1122_3344, flags: flags))])
        #expect(handshake.isComplete)
        #expect(!handshake.isAwaitingAck)
    }

    @Test("initiator: 'ok_simultaneous' goes on like 'ok'")
    func initiatorOkSimultaneous() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        #expect(try handshake.receive(Array("sok_simultaneous".utf8)) == [])
        let actions = try handshake.receive(Self.challenge(flags: Self.peerFlags, challenge: Self.peerChallenge, creation: 1, name: Self.peerName))
        #expect(actions.count == 1)
    }

    @Test("initiator: status 'alive' is answered 'true' and the handshake goes on")
    func initiatorAlive() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        #expect(try handshake.receive(Array("salive".utf8)) == [.send([UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "u"), UInt8(ascii: "e")])])
        let actions = try handshake.receive(Self.challenge(flags: Self.peerFlags, challenge: Self.peerChallenge, creation: 5, name: Self.peerName))
        #expect(actions == [.send([UInt8(ascii: "r")] + Self.be(Self.ourChallenge) + Self.digest(Self.cookie, Self.peerChallenge))])
        let done = try handshake.receive([UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.ourChallenge))
        #expect(done.count == 1)
        #expect(handshake.isComplete)
    }

    @Test("initiator: a refusing status is a typed rejection naming the peer and the status",
          arguments: ["not_allowed", "nok", "named:"])
    func initiatorRejected(status: String) throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        expectDistributionError({
            try handshake.receive(Array(("s" + status).utf8))
        }) { error in
            guard case .handshakeRejected(let node, let got) = error else { return false }
            return node.description == Self.peerName && got == status
        }
    }

    @Test("initiator: an ack with the wrong digest is an authentication failure")
    func initiatorBadAckDigest() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        _ = try handshake.receive(Array("sok".utf8))
        _ = try handshake.receive(Self.challenge(flags: Self.peerFlags, challenge: Self.peerChallenge, creation: 1, name: Self.peerName))
        // The digest the peer would send with another cookie.
        expectDistributionError({
            try handshake.receive([UInt8(ascii: "a")] + Self.digest("other", Self.ourChallenge))
        }) { error in
            guard case .authenticationFailed(let node) = error else { return false }
            return node.description == Self.peerName
        }
        #expect(!handshake.isComplete)
        // A failed handshake takes nothing more.
        #expect(throws: DistributionError.self) { try handshake.receive([UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.ourChallenge)) }
    }

    @Test("initiator: a peer lacking a mandatory flag is refused with the missing flags")
    func initiatorMissingFlags() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        _ = try handshake.receive(Array("sok".utf8))
        let lacking = DistributionFlags(rawValue: Self.peerFlags).subtracting([.utf8Atoms, .unlinkID, .mandatory25Digest])
        expectDistributionError({
            try handshake.receive(Self.challenge(flags: lacking.rawValue, challenge: Self.peerChallenge, creation: 1, name: Self.peerName))
        }) { error in
            guard case .missingFlags(let node, let missing) = error else { return false }
            return node.description == Self.peerName && missing == [.utf8Atoms, .unlinkID]
        }
    }

    @Test("initiator: MANDATORY_25_DIGEST stands for the whole OTP 25 mandatory set")
    func initiatorMandatoryDigest() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        _ = try handshake.receive(Array("sok".utf8))
        let terse: DistributionFlags = [.mandatory25Digest, .unlinkID, .distMonitor]
        _ = try handshake.receive(Self.challenge(flags: terse.rawValue, challenge: Self.peerChallenge, creation: 1, name: Self.peerName))
        let done = try handshake.receive([UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.ourChallenge))
        #expect(done == [.complete(.init(peerName: Self.peerName, peerCreation: 1,
                                         flags: DistributionFlags(rawValue: Self.numbatFlags).intersection(terse.union(.mandatory25))))])
    }

    @Test("initiator: a challenge from another node than the one dialled is refused")
    func initiatorWrongName() throws {
        var handshake = Self.initiator()
        _ = handshake.start()
        _ = try handshake.receive(Array("sok".utf8))
        expectDistributionError({
            try handshake.receive(Self.challenge(flags: Self.peerFlags, challenge: 1, creation: 1, name: "other@127.0.0.1"))
        }) { error in
            guard case .handshakeProtocol(let why) = error else { return false }
            return why.contains("other@127.0.0.1")
        }
    }

    @Test("initiator: truncated and out-of-turn messages are protocol errors")
    func initiatorGarbage() throws {
        var truncated = Self.initiator()
        _ = truncated.start()
        _ = try truncated.receive(Array("sok".utf8))
        #expect(throws: DistributionError.self) { try truncated.receive([UInt8(ascii: "N"), 0, 0, 0]) }

        var early = Self.initiator()
        _ = early.start()
        expectDistributionError({
            try early.receive([UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.ourChallenge))
        }) { error in
            guard case .handshakeProtocol(let why) = error else { return false }
            return why.contains("unexpected message 'a'")
        }

        var empty = Self.initiator()
        _ = empty.start()
        #expect(throws: DistributionError.self) { try empty.receive([]) }
    }

    // MARK: Acceptor

    @Test("acceptor: status, challenge, ack and completion, byte for byte")
    func acceptorExactBytes() throws {
        var handshake = Self.acceptor()
        let first = try handshake.receive(Self.sendName(flags: Self.peerFlags, creation: 0x0A0B_0C0D, name: Self.peerName))
        let challenge = Self.challenge(flags: Self.numbatFlags, challenge: Self.ourChallenge, creation: 9, name: Self.localName)
        #expect(first == [.send([UInt8(ascii: "s"), UInt8(ascii: "o"), UInt8(ascii: "k")]), .send(challenge)])
        #expect(challenge.count == 35)
        #expect(handshake.localName == Self.localName)

        let last = try handshake.receive([UInt8(ascii: "r")] + Self.be(Self.peerChallenge) + Self.digest(Self.cookie, Self.ourChallenge))
        let ack = [UInt8(ascii: "a")] + Self.digest(Self.cookie, Self.peerChallenge)
        let flags = DistributionFlags(rawValue: Self.numbatFlags & Self.peerFlags)
        #expect(last == [.send(ack), .complete(.init(peerName: Self.peerName, peerCreation: 0x0A0B_0C0D, flags: flags))])
        #expect(ack.count == 17)
        #expect(handshake.isComplete)
    }

    @Test("acceptor: a reply with the wrong digest is an authentication failure and no ack is sent")
    func acceptorBadDigest() throws {
        var handshake = Self.acceptor()
        _ = try handshake.receive(Self.sendName(flags: Self.peerFlags, creation: 1, name: Self.peerName))
        expectDistributionError({
            try handshake.receive([UInt8(ascii: "r")] + Self.be(Self.peerChallenge) + Self.digest("other", Self.ourChallenge))
        }) { error in
            guard case .authenticationFailed(let node) = error else { return false }
            return node.description == Self.peerName
        }
        #expect(!handshake.isComplete)
    }

    @Test("acceptor: the cookie set for the peer is the one checked and used")
    func acceptorPerPeerCookie() throws {
        var handshake = Self.acceptor(cookie: "default") { $0 == Self.peerName ? "other" : nil }
        _ = try handshake.receive(Self.sendName(flags: Self.peerFlags, creation: 1, name: Self.peerName))
        #expect(handshake.cookie == "other")
        let last = try handshake.receive([UInt8(ascii: "r")] + Self.be(Self.peerChallenge) + Self.digest("other", Self.ourChallenge))
        #expect(last.first == .send([UInt8(ascii: "a")] + Self.digest("other", Self.peerChallenge)))
        // Known answer for `other16909060`, the digest the peer checks us with.
        #expect(Self.digest("other", Self.ourChallenge) == Self.hex("e45c9c9fb6d2eac77f0b062f21994ad0"))
    }

    @Test("acceptor: a peer lacking a mandatory flag is refused before any challenge is sent")
    func acceptorMissingFlags() throws {
        var handshake = Self.acceptor()
        let lacking = DistributionFlags(rawValue: Self.peerFlags).subtracting([.mapTag, .mandatory25Digest])
        expectDistributionError({
            try handshake.receive(Self.sendName(flags: lacking.rawValue, creation: 1, name: Self.peerName))
        }) { error in
            guard case .missingFlags(let node, let missing) = error else { return false }
            return node.description == Self.peerName && missing == .mapTag
        }
    }

    @Test("acceptor: the version 5 handshake and invalid names are refused")
    func acceptorRefusals() throws {
        var old = Self.acceptor()
        expectDistributionError({
            try old.receive([UInt8(ascii: "n"), 0, 5, 0, 0, 0x7F, 0xFF] + Array("a@127.0.0.1".utf8))
        }) { error in
            guard case .handshakeProtocol(let why) = error else { return false }
            return why.contains("version 5")
        }
        var badName = Self.acceptor()
        expectDistributionError({
            try badName.receive(Self.sendName(flags: Self.peerFlags, creation: 1, name: "no at sign"))
        }) { error in
            if case .invalidNodeName = error { true } else { false }
        }
    }

    // MARK: Both roles together

    @Test("an initiator and an acceptor with the same cookie complete against each other")
    func bothRoles() throws {
        var dialler = Handshake(role: .initiator(expectedPeer: Self.localName), localName: Self.peerName,
                                flags: DistributionFlags(rawValue: Self.peerFlags), creation: 3, cookie: Self.cookie,
                                challenge: { Self.peerChallenge })
        var listener = Self.acceptor()
        var toListener = [dialler.start()]
        var outcomes: [Handshake.Outcome] = []
        var rounds = 0
        while !toListener.isEmpty, rounds < 10 {
            rounds += 1
            var toDialler: [[UInt8]] = []
            for message in toListener {
                for action in try listener.receive(message) {
                    switch action {
                    case .send(let bytes): toDialler.append(bytes)
                    case .complete(let outcome): outcomes.append(outcome)
                    }
                }
            }
            toListener = []
            for message in toDialler {
                for action in try dialler.receive(message) {
                    switch action {
                    case .send(let bytes): toListener.append(bytes)
                    case .complete(let outcome): outcomes.append(outcome)
                    }
                }
            }
        }
        #expect(dialler.isComplete && listener.isComplete)
        let agreed = DistributionFlags(rawValue: Self.numbatFlags & Self.peerFlags)
        #expect(Set(outcomes.map(\.flags)) == [agreed])
        #expect(Set(outcomes.map(\.peerName)) == [Self.peerName, Self.localName])
    }

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
