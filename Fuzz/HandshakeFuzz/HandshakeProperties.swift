import Crypto
@testable import ErlangDist

/// The distribution handshake (`Handshake`, both roles) fed the peer's messages from fuzzed
/// bytes. The first byte picks the scenario; the rest are the peer's messages, each with the
/// 2-byte length prefix the connection's channel handler strips (an incomplete last message is
/// left waiting, as the handler does). What must hold:
///
/// - Every message returns actions or throws one of the handshake's own errors (rejected,
///   protocol, authentication, missing flags, invalid node name); a handshake that failed is
///   not fed again, as the connection closes.
/// - It completes at most once, as the last action of the message that completes it, and
///   only after the peer proved the cookie: the message completing it carries
///   MD5(cookie ++ our challenge), computed here independently. Any message after completion
///   is an error.
/// - What we send is well formed and answers the peer: our digest is MD5(cookie ++ the peer's
///   challenge) as the peer's message carried it, our name message parses back.
/// - The outcome names the peer (the dialled one, for an initiator), and its flags are ours
///   ANDed with the peer's, with everything OTP 25 requires.
/// - Two handshakes of ours (scenario 2) complete together exactly when the cookies match, the
///   initiator's name is valid and both offer the required flags, and agree on the flags.
enum HandshakeProperties {
    static let localName = "numbat@fuzz"
    static let peerName = "peer@fuzz"
    static let cookie = "fuzzcookie"
    /// The acceptor's cookie for peers whose name starts with "special" (`cookieForPeer`).
    static let specialCookie = "special-cookie"
    /// Fixed challenges, so committed inputs can carry valid digests.
    static let ourChallenge: UInt32 = 0x0A0B_0C0D
    static let peerChallenge: UInt32 = 0x0102_0304
    static let required = DistributionFlags.mandatory25.union(.unlinkID)

    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let mode = bytes.first else { return false }
        let rest = Array(bytes.dropFirst())
        switch mode % 3 {
        case 0: return initiator(frames(rest))
        case 1: return acceptor(frames(rest))
        default: return pair(rest)
        }
    }

    /// Splits `bytes` into 2-byte-length-prefixed messages, as the channel handler does.
    static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var offset = 0
        while bytes.count - offset >= 2 {
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard bytes.count - offset - 2 >= length else { break }
            result.append(Array(bytes[offset + 2..<offset + 2 + length]))
            offset += 2 + length
        }
        return result
    }

    static func md5(_ cookie: String, _ challenge: UInt32) -> [UInt8] {
        Array(Insecure.MD5.hash(data: Array((cookie + String(challenge)).utf8)))
    }

    static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func uint64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A `send_name` or challenge message: 'N', flags, [challenge,] creation, name (bytes after
    /// the name are ignored, as `Handshake` ignores them).
    static func parseName(_ message: [UInt8], withChallenge: Bool) -> (flags: UInt64, challenge: UInt32?, creation: UInt32, name: String)? {
        let fixed = withChallenge ? 19 : 15
        guard message.count >= fixed, message[0] == UInt8(ascii: "N") else { return nil }
        let length = Int(message[fixed - 2]) << 8 | Int(message[fixed - 1])
        guard message.count >= fixed + length else { return nil }
        return (uint64(message, at: 1), withChallenge ? uint32(message, at: 9) : nil, uint32(message, at: withChallenge ? 13 : 9),
                String(decoding: message[fixed..<fixed + length], as: UTF8.self))
    }

    /// The errors a handshake may end with; anything else is a violation.
    static func expectHandshakeError(_ error: any Error) {
        guard let error = error as? DistributionError else { preconditionFailure("the handshake threw \(error)") }
        switch error {
        case .handshakeRejected, .handshakeProtocol, .authenticationFailed, .missingFlags, .invalidNodeName:
            precondition(!error.description.isEmpty)
        default:
            preconditionFailure("the handshake failed with an unexpected error: \(error)")
        }
    }

    static func expectOutcome(_ outcome: Handshake.Outcome, peerFlags: UInt64, local: DistributionFlags) {
        var offered = DistributionFlags(rawValue: peerFlags)
        if offered.contains(.mandatory25Digest) { offered.formUnion(.mandatory25) }
        precondition(outcome.flags == local.intersection(offered), "negotiated \(outcome.flags) from \(local) and \(offered)")
        precondition(outcome.flags.isSuperset(of: required.intersection(local)), "negotiated flags \(outcome.flags) lack required ones")
    }

    // MARK: We dial the peer

    static func initiator(_ frames: [[UInt8]]) -> Bool {
        var handshake = Handshake(role: .initiator(expectedPeer: peerName), localName: localName, flags: .numbat,
                                  creation: 7, cookie: cookie, challenge: { ourChallenge })
        let first = handshake.start()
        guard let sent = parseName(first, withChallenge: false) else { preconditionFailure("send_name does not parse: \(first)") }
        precondition(sent.flags == DistributionFlags.numbat.rawValue && sent.creation == 7 && sent.name == localName)
        var sentReply = false
        var completed = false
        for frame in frames {
            let actions: [Handshake.Action]
            do {
                actions = try handshake.receive(frame)
            } catch {
                expectHandshakeError(error)
                return completed
            }
            precondition(!completed, "a message after completion was accepted")
            for (index, action) in actions.enumerated() {
                switch action {
                case .send(let message):
                    if message.first == UInt8(ascii: "r") {
                        // Our reply to the peer's challenge message `frame`.
                        guard let challenge = parseName(frame, withChallenge: true) else {
                            preconditionFailure("replied to a challenge that does not parse: \(frame)")
                        }
                        precondition(challenge.name == peerName, "accepted a challenge from \(challenge.name)")
                        precondition(message == [UInt8(ascii: "r"), 0x0A, 0x0B, 0x0C, 0x0D] + md5(cookie, challenge.challenge!),
                                     "reply \(message) to challenge \(challenge.challenge!)")
                        precondition(handshake.isAwaitingAck)
                        sentReply = true
                    } else {
                        precondition(message == Array("strue".utf8), "unexpected message \(message)")
                        precondition(frame == Array("salive".utf8))
                    }
                case .complete(let outcome):
                    precondition(index == actions.count - 1, "completion is not the last action")
                    precondition(sentReply, "completed before replying to a challenge")
                    precondition(frame == [UInt8(ascii: "a")] + md5(cookie, ourChallenge), "completed on \(frame) without the cookie's digest")
                    precondition(outcome.peerName == peerName)
                    completed = true
                }
            }
            precondition(handshake.isComplete == completed)
        }
        return completed
    }

    // MARK: The peer dials us

    static func acceptor(_ frames: [[UInt8]]) -> Bool {
        var handshake = Handshake(role: .acceptor, localName: "", flags: .numbat, creation: 9, cookie: cookie,
                                  nameForPeer: { $0.contains(".") ? "numbat@fuzz.example" : localName },
                                  cookieForPeer: { $0.hasPrefix("special") ? specialCookie : nil },
                                  challenge: { ourChallenge })
        var peer: (flags: UInt64, challenge: UInt32?, creation: UInt32, name: String)?
        var completed = false
        for frame in frames {
            let actions: [Handshake.Action]
            do {
                actions = try handshake.receive(frame)
            } catch {
                expectHandshakeError(error)
                return completed
            }
            precondition(!completed, "a message after completion was accepted")
            if peer == nil {
                // The peer's name: we answer "sok" and our challenge.
                guard let name = parseName(frame, withChallenge: false) else { preconditionFailure("accepted \(frame) as the peer's name") }
                peer = name
                precondition((try? NodeName(name.name)) != nil, "accepted the invalid node name \(name.name)")
                precondition(actions.count == 2 && actions[0] == .send(Array("sok".utf8)), "answer to the name: \(actions)")
                guard case .send(let message) = actions[1], let ours = parseName(message, withChallenge: true) else {
                    preconditionFailure("our challenge does not parse: \(actions[1])")
                }
                let expectedName = name.name.contains(".") ? "numbat@fuzz.example" : localName
                precondition(ours.flags == DistributionFlags.numbat.rawValue && ours.challenge == ourChallenge
                             && ours.creation == 9 && ours.name == expectedName && handshake.localName == expectedName)
                continue
            }
            let peerCookie = peer!.name.hasPrefix("special") ? specialCookie : cookie
            precondition(frame.count == 21 && frame[0] == UInt8(ascii: "r") && Array(frame[5...]) == md5(peerCookie, ourChallenge),
                         "completed on \(frame) without the cookie's digest")
            precondition(actions.count == 2, "answer to the reply: \(actions)")
            precondition(actions[0] == .send([UInt8(ascii: "a")] + md5(peerCookie, uint32(frame, at: 1))), "our ack: \(actions[0])")
            guard case .complete(let outcome) = actions[1] else { preconditionFailure("no completion: \(actions)") }
            precondition(outcome.peerName == peer!.name && outcome.peerCreation == peer!.creation)
            expectOutcome(outcome, peerFlags: peer!.flags, local: .numbat)
            completed = true
            precondition(handshake.isComplete)
        }
        return completed
    }

    // MARK: Two of ours

    /// `bytes`: the initiator's flags (8 bytes), the acceptor's (8), a byte choosing the
    /// acceptor's cookie, then the initiator's name.
    static func pair(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 17 else { return false }
        let initiatorFlags = DistributionFlags(rawValue: uint64(bytes, at: 0))
        let acceptorFlags = DistributionFlags(rawValue: uint64(bytes, at: 8))
        let sameCookie = bytes[16] & 1 == 0
        let name = String(decoding: bytes[17...], as: UTF8.self)
        var initiator = Handshake(role: .initiator(expectedPeer: peerName), localName: name, flags: initiatorFlags,
                                  creation: 1, cookie: cookie, challenge: { peerChallenge })
        var acceptor = Handshake(role: .acceptor, localName: "", flags: acceptorFlags, creation: 2,
                                 cookie: sameCookie ? cookie : "other", nameForPeer: { _ in peerName },
                                 challenge: { ourChallenge })
        // Messages in flight: (to the acceptor?, bytes).
        var inFlight: [(toAcceptor: Bool, bytes: [UInt8])] = [(true, initiator.start())]
        var outcomes: (initiator: Handshake.Outcome?, acceptor: Handshake.Outcome?) = (nil, nil)
        var failure: DistributionError?
        var steps = 0
        while !inFlight.isEmpty, failure == nil {
            steps += 1
            precondition(steps < 16, "the handshake does not end")
            let (toAcceptor, message) = inFlight.removeFirst()
            do {
                let actions = try toAcceptor ? acceptor.receive(message) : initiator.receive(message)
                for action in actions {
                    switch action {
                    case .send(let reply): inFlight.append((!toAcceptor, reply))
                    case .complete(let outcome):
                        if toAcceptor { outcomes.acceptor = outcome } else { outcomes.initiator = outcome }
                    }
                }
            } catch {
                expectHandshakeError(error)
                failure = error
            }
        }
        let nameValid = (try? NodeName(name)) != nil
        let offers = { (flags: DistributionFlags) -> Bool in
            var flags = flags
            if flags.contains(.mandatory25Digest) { flags.formUnion(.mandatory25) }
            return flags.isSuperset(of: required)
        }
        let shouldComplete = sameCookie && nameValid && offers(initiatorFlags) && offers(acceptorFlags)
        if shouldComplete {
            guard let mine = outcomes.initiator, let theirs = outcomes.acceptor else {
                preconditionFailure("two compatible handshakes did not complete: \(failure.map(String.init(describing:)) ?? "no error")")
            }
            precondition(mine.peerName == peerName && theirs.peerName == name && mine.peerCreation == 2 && theirs.peerCreation == 1)
            expectOutcome(mine, peerFlags: acceptorFlags.rawValue, local: initiatorFlags)
            expectOutcome(theirs, peerFlags: initiatorFlags.rawValue, local: acceptorFlags)
            return true
        }
        precondition(outcomes.initiator == nil, "the initiator completed: cookie \(sameCookie), name \(name), flags \(initiatorFlags) and \(acceptorFlags)")
        precondition(failure != nil, "an incompatible handshake neither completed nor failed")
        return false
    }
}
