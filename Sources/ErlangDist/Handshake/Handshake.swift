import Crypto

/// The distribution handshake (protocol version 6, OTP 23+) as a pure state machine: bytes of
/// complete handshake messages in, messages to send and the outcome out. No I/O; the
/// connection's channel handler frames the messages (2-byte length) and drives it.
struct Handshake {
    /// What both sides agreed on.
    struct Outcome: Equatable {
        var peerName: String
        var peerCreation: UInt32
        /// Our flags ANDed with the peer's: what the connection may use.
        var flags: DistributionFlags
    }

    enum Action: Equatable {
        case send([UInt8])
        case complete(Outcome)
    }

    enum Role: Equatable {
        /// We dialled `expectedPeer`.
        case initiator(expectedPeer: String)
        case acceptor
    }

    private enum State: Equatable {
        case idle
        case awaitingStatus
        case awaitingChallenge
        case awaitingAck(ourChallenge: UInt32, outcome: Outcome)
        case awaitingName
        case awaitingReply(ourChallenge: UInt32, outcome: Outcome)
        case done
        case failed
    }

    let role: Role
    /// The name we present; an acceptor picks it once it knows the peer's name style.
    private(set) var localName: String
    private let nameForPeer: (String) -> String
    let localFlags: DistributionFlags
    let localCreation: UInt32
    /// The cookie; an acceptor may switch to the one set for the peer once it knows its name.
    private(set) var cookie: String
    private let cookieForPeer: (String) -> String?
    private var state: State = .idle
    /// Source of challenges; injectable so tests are deterministic.
    private var nextChallenge: () -> UInt32

    init(role: Role, localName: String, flags: DistributionFlags, creation: UInt32, cookie: String,
         nameForPeer: @escaping (String) -> String = { _ in "" },
         cookieForPeer: @escaping (String) -> String? = { _ in nil },
         challenge: @escaping () -> UInt32 = { UInt32.random(in: .min ... .max) })
    {
        self.role = role
        self.localName = localName
        self.nameForPeer = nameForPeer
        self.localFlags = flags
        self.localCreation = creation
        self.cookie = cookie
        self.cookieForPeer = cookieForPeer
        self.nextChallenge = challenge
        state = role == .acceptor ? .awaitingName : .idle
    }

    var isComplete: Bool { state == .done }

    /// An initiator whose reply was sent but not acknowledged: a peer that closes now has
    /// rejected our cookie (the BEAM closes without a word).
    var isAwaitingAck: Bool {
        if case .awaitingAck = state { return true }
        return false
    }

    /// The initiator's first message, `send_name`.
    mutating func start() -> [UInt8] {
        precondition(state == .idle, "start() is for the initiator, once")
        state = .awaitingStatus
        var message: [UInt8] = [UInt8(ascii: "N")]
        message.append(uint64: localFlags.rawValue)
        message.append(uint32: localCreation)
        message.append(string16: localName)
        return message
    }

    /// Feeds one complete handshake message (without its length prefix).
    mutating func receive(_ message: [UInt8]) throws(DistributionError) -> [Action] {
        do {
            return try step(message)
        } catch {
            state = .failed
            throw error
        }
    }

    private mutating func step(_ message: [UInt8]) throws(DistributionError) -> [Action] {
        var reader = ByteReader(message)
        let tag = try reader.byte()
        switch (state, tag) {
        case (.awaitingStatus, UInt8(ascii: "s")):
            let status = String(decoding: reader.rest(), as: UTF8.self)
            switch status {
            case "ok", "ok_simultaneous":
                state = .awaitingChallenge
                return []
            case "alive":
                // The peer still has a connection from us that we no longer have: tell it to go on.
                state = .awaitingChallenge
                return [.send(Array("strue".utf8))]
            default:
                throw .handshakeRejected(try NodeName(expectedPeerText), status: status)
            }

        case (.awaitingChallenge, UInt8(ascii: "N")):
            let peerFlags = DistributionFlags(rawValue: try reader.uint64())
            let challenge = try reader.uint32()
            let creation = try reader.uint32()
            let name = try reader.string16()
            guard name == expectedPeerText else {
                throw .handshakeProtocol("dialled \(expectedPeerText) but \(name) answered")
            }
            let outcome = Outcome(peerName: name, peerCreation: creation, flags: try negotiate(peerFlags, peer: name))
            let ours = nextChallenge()
            state = .awaitingAck(ourChallenge: ours, outcome: outcome)
            var reply: [UInt8] = [UInt8(ascii: "r")]
            reply.append(uint32: ours)
            reply += Self.digest(challenge: challenge, cookie: cookie)
            return [.send(reply)]

        case (.awaitingAck(let ours, let outcome), UInt8(ascii: "a")):
            guard Array(reader.rest()) == Self.digest(challenge: ours, cookie: cookie) else {
                throw .authenticationFailed(try NodeName(outcome.peerName))
            }
            state = .done
            return [.complete(outcome)]

        case (.awaitingName, UInt8(ascii: "N")):
            let peerFlags = DistributionFlags(rawValue: try reader.uint64())
            let creation = try reader.uint32()
            let name = try reader.string16()
            _ = try NodeName(name)
            localName = nameForPeer(name)
            if let peerCookie = cookieForPeer(name) { cookie = peerCookie }
            let outcome = Outcome(peerName: name, peerCreation: creation, flags: try negotiate(peerFlags, peer: name))
            let ours = nextChallenge()
            state = .awaitingReply(ourChallenge: ours, outcome: outcome)
            var challenge: [UInt8] = [UInt8(ascii: "N")]
            challenge.append(uint64: localFlags.rawValue)
            challenge.append(uint32: ours)
            challenge.append(uint32: localCreation)
            challenge.append(string16: localName)
            return [.send(Array("sok".utf8)), .send(challenge)]

        case (.awaitingName, UInt8(ascii: "n")):
            throw .handshakeProtocol("the peer uses the pre-OTP-23 handshake (version 5), which is not supported")

        case (.awaitingReply(let ours, let outcome), UInt8(ascii: "r")):
            let peerChallenge = try reader.uint32()
            guard Array(reader.rest()) == Self.digest(challenge: ours, cookie: cookie) else {
                throw .authenticationFailed(try NodeName(outcome.peerName))
            }
            state = .done
            return [.send([UInt8(ascii: "a")] + Self.digest(challenge: peerChallenge, cookie: cookie)), .complete(outcome)]

        default:
            throw .handshakeProtocol("unexpected message '\(Self.printable(tag))' (\(message.count) bytes) during the handshake")
        }
    }

    private var expectedPeerText: String {
        if case .initiator(let peer) = role { return peer }
        return "?"
    }

    private func negotiate(_ peerFlags: DistributionFlags, peer: String) throws(DistributionError) -> DistributionFlags {
        var peerFlags = peerFlags
        if peerFlags.contains(.mandatory25Digest) { peerFlags.formUnion(.mandatory25) }
        let required = DistributionFlags.mandatory25.union(.unlinkID)
        let missing = required.subtracting(peerFlags)
        guard missing.isEmpty else { throw .missingFlags(try NodeName(peer), missing) }
        return localFlags.intersection(peerFlags)
    }

    /// `MD5(Cookie ++ integer_to_list(Challenge))`.
    static func digest(challenge: UInt32, cookie: String) -> [UInt8] {
        Array(Insecure.MD5.hash(data: Array((cookie + String(challenge)).utf8)))
    }

    private static func printable(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? String(UnicodeScalar(byte)) : "\\\(byte)"
    }
}

/// Bounds-checked big-endian reads for the handshake's small messages.
struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() throws(DistributionError) -> UInt8 {
        guard offset < bytes.count else { throw .handshakeProtocol("message is truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() throws(DistributionError) -> UInt16 {
        UInt16(try byte()) << 8 | UInt16(try byte())
    }

    mutating func uint32() throws(DistributionError) -> UInt32 {
        UInt32(try uint16()) << 16 | UInt32(try uint16())
    }

    mutating func uint64() throws(DistributionError) -> UInt64 {
        UInt64(try uint32()) << 32 | UInt64(try uint32())
    }

    mutating func string16() throws(DistributionError) -> String {
        let count = Int(try uint16())
        guard bytes.count - offset >= count else { throw .handshakeProtocol("name is truncated") }
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }

    mutating func rest() -> ArraySlice<UInt8> {
        defer { offset = bytes.count }
        return bytes[offset...]
    }
}

extension Array where Element == UInt8 {
    mutating func append(uint32 value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    mutating func append(uint64 value: UInt64) {
        append(uint32: UInt32(value >> 32))
        append(uint32: UInt32(truncatingIfNeeded: value))
    }

    mutating func append(string16 value: String) {
        let utf8 = Array(value.utf8)
        append(contentsOf: [UInt8(utf8.count >> 8), UInt8(truncatingIfNeeded: utf8.count)])
        append(contentsOf: utf8)
    }
}
