@testable import ErlangDist
import ErlangTerm
import NIOCore
import Testing

/// The frame receiver driven directly with hand-built frames and a supplied time: headers, the
/// atom cache, fragments in and out of order, interleaved messages, expiry and the size bounds.
@Suite("frame receiver: headers, atom cache, fragments and their bounds")
struct FrameReceiverTests {
    /// `{6, 1}` in external format without the version byte: the control message.
    static let control: [UInt8] = [104, 2, 97, 6, 97, 1]
    static let decodedControl: Term = .tuple([.integer(6), .integer(1)])

    /// A binary of `count` bytes, `BINARY_EXT`: the payload.
    static func payload(_ count: Int, seed: UInt8 = 0) -> (bytes: [UInt8], term: Term) {
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ Int(seed)) }
        return ([109, UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
                 UInt8(truncatingIfNeeded: count)] + data, .binary(data))
    }

    static func be(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// `131, 69, SequenceId, FragmentId, 0 atom cache refs` and the first piece.
    static func first(_ sequence: UInt64, _ fragment: UInt64, _ piece: ArraySlice<UInt8>) -> [UInt8] {
        [131, 69] + be(sequence) + be(fragment) + [0] + piece
    }

    /// `131, 70, SequenceId, FragmentId` and a later piece.
    static func rest(_ sequence: UInt64, _ fragment: UInt64, _ piece: ArraySlice<UInt8>) -> [UInt8] {
        [131, 70] + be(sequence) + be(fragment) + piece
    }

    /// `body` cut into `count` pieces of about equal size, first piece first.
    static func pieces(_ body: [UInt8], _ count: Int) -> [ArraySlice<UInt8>] {
        let size = (body.count + count - 1) / count
        return stride(from: 0, to: body.count, by: size).map { body[$0..<min($0 + size, body.count)] }
    }

    static func at(_ seconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(seconds) * 1_000_000_000) }

    static func feed(_ receiver: inout DistributionFrameReceiver, _ frame: [UInt8], at now: NIODeadline = at(0))
        throws(DistributionError) -> (control: Term, payload: Term?)?
    {
        let result = frame.withUnsafeBytes { raw in
            Result { () throws(DistributionError) in try receiver.receive(raw, now: now) }
        }
        return try result.get()
    }

    // MARK: Whole frames

    @Test("a header frame without cache refs decodes control and payload")
    func plainHeader() throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(5)
        let result = try #require(try Self.feed(&receiver, [131, 68, 0] + Self.control + payload.bytes))
        #expect(result.control == Self.decodedControl)
        #expect(result.payload == payload.term)
        let bare = try #require(try Self.feed(&receiver, [131, 68, 0] + Self.control))
        #expect(bare.payload == nil)
    }

    @Test("a pass-through frame (112) decodes versioned terms")
    func passThrough() throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(3)
        let result = try #require(try Self.feed(&receiver, [112, 131] + Self.control + [131] + payload.bytes))
        #expect(result.control == Self.decodedControl)
        #expect(result.payload == payload.term)
        expectDistributionError({ try Self.feed(&receiver, [112] + Self.control) }) { error in
            if case .malformedFrame(let why) = error { why.contains("version") } else { false }
        }
    }

    /// A payload wanted flat decodes to the same term, whole, fragmented, passed through and
    /// with atom cache references; the control alone decides, before the payload is read.
    @Test("a payload wanted flat is a FlatTerm of the same term")
    func flatPayload() throws {
        let payload = Self.payload(3000)
        let frames: [(String, [[UInt8]])] = [
            ("whole", [[131, 68, 0] + Self.control + payload.bytes]),
            ("pass-through", [[112, 131] + Self.control + [131] + payload.bytes]),
            ("fragments", { () -> [[UInt8]] in
                let parts = Self.pieces(Self.control + payload.bytes, 3)
                return [Self.first(9, 3, parts[0]), Self.rest(9, 2, parts[1]), Self.rest(9, 1, parts[2])]
            }()),
            // {6, 1} as control and ['hello', 'hello'] as payload, 'hello' from cache slot 5.
            ("atom cache", [[131, 68, 1, 0x08, 5, 5] + Array("hello".utf8) + Self.control + [108, 0, 0, 0, 2, 82, 0, 82, 0, 106]]),
        ]
        for (name, parts) in frames {
            var plain = DistributionFrameReceiver(), flat = DistributionFrameReceiver()
            var expected: (control: Term, payload: Term?)?
            var received: DistributionFrameReceiver.Received?
            var asked: [Term] = []
            for part in parts {
                expected = try Self.feed(&plain, part)
                received = try part.withUnsafeBytes { raw in
                    try Result { () throws(DistributionError) in
                        try flat.receive(raw, now: Self.at(0)) { control in
                            asked.append(control)
                            return true
                        }
                    }.get()
                }
            }
            let want = try #require(expected, "\(name)")
            let got = try #require(received, "\(name)")
            #expect(got.control == want.control && got.payload == nil, "\(name)")
            #expect(got.flatPayload?.term == want.payload && want.payload != nil, "\(name)")
            #expect(asked == [want.control], "\(name): asked once, with the control")
        }
        // A message without a payload has nothing to decode flat.
        var receiver = DistributionFrameReceiver()
        let bare = try [131, 68, 0] + Self.control
        let result = try bare.withUnsafeBytes { raw in
            try Result { () throws(DistributionError) in try receiver.receive(raw, now: Self.at(0)) { _ in true } }.get()
        }
        #expect(result?.flatPayload == nil && result?.payload == nil && result?.control == Self.decodedControl)
    }

    @Test("atom cache entries fill slots that later frames refer to")
    func atomCache() throws {
        var receiver = DistributionFrameReceiver()
        // One ref: flags 0x08 = new entry in segment 0, short atoms; slot 5 is 'hello'.
        let filled = try #require(try Self.feed(&receiver, [131, 68, 1, 0x08, 5, 5] + Array("hello".utf8) + [82, 0]))
        #expect(filled.control == .atom("hello"))
        // The same slot again, without the entry.
        let reused = try #require(try Self.feed(&receiver, [131, 68, 1, 0x00, 5, 82, 0]))
        #expect(reused.control == .atom("hello"))
        // Segment 1, slot 1*256+7, never filled.
        expectDistributionError({ try Self.feed(&receiver, [131, 68, 1, 0x01, 7, 82, 0]) }) { error in
            if case .malformedFrame(let why) = error { why.contains("263") } else { false }
        }
    }

    @Test("frames that are not distribution frames are malformed", arguments: [
        [99, 1, 2], [131], [131, 71, 0], [131, 68, 0, 104], [131, 68, 0, 97, 1, 99],
    ] as [[UInt8]])
    func malformed(frame: [UInt8]) {
        var receiver = DistributionFrameReceiver()
        expectDistributionError({ try Self.feed(&receiver, frame) }) { error in
            if case .malformedFrame = error { true } else { false }
        }
    }

    // MARK: Fragments

    @Test("fragments in order make one message; nothing stays buffered")
    func fragmentsInOrder() throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(3000)
        let parts = Self.pieces(Self.control + payload.bytes, 3)
        #expect(try Self.feed(&receiver, Self.first(7, 3, parts[0])) == nil)
        #expect(receiver.openSequences == 1)
        #expect(receiver.bufferedByteCount == parts[0].count + DistributionFrameReceiver.pieceOverhead)
        #expect(try Self.feed(&receiver, Self.rest(7, 2, parts[1])) == nil)
        let result = try #require(try Self.feed(&receiver, Self.rest(7, 1, parts[2])))
        #expect(result.control == Self.decodedControl)
        #expect(result.payload == payload.term)
        #expect(receiver.openSequences == 0)
        #expect(receiver.bufferedByteCount == 0)
    }

    @Test("a first fragment with id 1 is a whole message")
    func singleFragment() throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(10)
        let result = try #require(try Self.feed(&receiver, Self.first(1, 1, ArraySlice(Self.control + payload.bytes))))
        #expect(result.payload == payload.term)
        #expect(receiver.openSequences == 0)
    }

    @Test("fragments out of order are put back in order", arguments: [
        [3, 1, 2], [1, 3, 2], [2, 1, 3], [1, 2, 3],
    ] as [[UInt64]])
    func fragmentsOutOfOrder(order: [UInt64]) throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(999, seed: 3)
        let parts = Self.pieces(Self.control + payload.bytes, 3)
        var results: [(control: Term, payload: Term?)] = []
        for fragment in order {
            let piece = parts[3 - Int(fragment)]
            let frame = fragment == 3 ? Self.first(42, 3, piece) : Self.rest(42, fragment, piece)
            if let result = try Self.feed(&receiver, frame) { results.append(result) }
        }
        #expect(results.count == 1)
        #expect(results.first?.control == Self.decodedControl)
        #expect(results.first?.payload == payload.term)
        #expect(receiver.openSequences == 0)
        #expect(receiver.bufferedByteCount == 0)
    }

    @Test("fragments of several messages interleave, and whole frames pass between them")
    func interleaved() throws {
        var receiver = DistributionFrameReceiver()
        let a = Self.payload(500, seed: 1), b = Self.payload(700, seed: 2)
        let partsA = Self.pieces(Self.control + a.bytes, 2), partsB = Self.pieces(Self.control + b.bytes, 3)
        #expect(try Self.feed(&receiver, Self.first(1, 2, partsA[0])) == nil)
        #expect(try Self.feed(&receiver, Self.first(2, 3, partsB[0])) == nil)
        #expect(receiver.openSequences == 2)
        let small = try #require(try Self.feed(&receiver, [131, 68, 0] + Self.control))
        #expect(small.control == Self.decodedControl)
        #expect(try Self.feed(&receiver, Self.rest(2, 2, partsB[1])) == nil)
        #expect(try Self.feed(&receiver, Self.rest(1, 1, partsA[1]))?.payload == a.term)
        #expect(try Self.feed(&receiver, Self.rest(2, 1, partsB[2]))?.payload == b.term)
        #expect(receiver.openSequences == 0)
    }

    @Test("a fragmented message uses the atom cache refs of its first fragment")
    func fragmentAtoms() throws {
        var receiver = DistributionFrameReceiver()
        let body: [UInt8] = [104, 2, 82, 0, 97, 1]
        let header: [UInt8] = [131, 69] + Self.be(9) + Self.be(2) + [1, 0x08, 3, 2] + Array("ok".utf8)
        #expect(try Self.feed(&receiver, Self.rest(9, 1, body[3...])) == nil)
        let result = try #require(try Self.feed(&receiver, header + body[..<3]))
        #expect(result.control == .tuple([.atom("ok"), .integer(1)]))
    }

    @Test("a duplicate fragment, a second start and a fragment beyond the count are refused")
    func fragmentErrors() throws {
        var duplicate = DistributionFrameReceiver()
        _ = try Self.feed(&duplicate, Self.first(1, 3, [1, 2]))
        _ = try Self.feed(&duplicate, Self.rest(1, 2, [3]))
        expectDistributionError({ try Self.feed(&duplicate, Self.rest(1, 2, [3])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("twice") } else { false }
        }

        var twice = DistributionFrameReceiver()
        _ = try Self.feed(&twice, Self.first(1, 3, [1, 2]))
        expectDistributionError({ try Self.feed(&twice, Self.first(1, 3, [1, 2])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("started twice") } else { false }
        }

        var beyond = DistributionFrameReceiver()
        _ = try Self.feed(&beyond, Self.first(1, 3, [1, 2]))
        expectDistributionError({ try Self.feed(&beyond, Self.rest(1, 3, [3])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("beyond") } else { false }
        }

        var early = DistributionFrameReceiver()
        _ = try Self.feed(&early, Self.rest(1, 5, [3]))
        expectDistributionError({ try Self.feed(&early, Self.first(1, 3, [1, 2])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("beyond") } else { false }
        }

        var zero = DistributionFrameReceiver()
        expectDistributionError({ try Self.feed(&zero, Self.rest(1, 0, [3])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("id 0") } else { false }
        }
    }

    @Test("a message whose fragments stop arriving expires; one still moving does not")
    func expiry() throws {
        var receiver = DistributionFrameReceiver()
        let payload = Self.payload(300)
        let parts = Self.pieces(Self.control + payload.bytes, 3)
        _ = try Self.feed(&receiver, Self.first(1, 3, parts[0]), at: Self.at(0))
        _ = try Self.feed(&receiver, Self.first(2, 3, parts[0]), at: Self.at(0))
        _ = try Self.feed(&receiver, Self.rest(2, 2, parts[1]), at: Self.at(50))
        #expect(receiver.expireSequences(idleSince: Self.at(0)) == 0)
        #expect(receiver.openSequences == 2)

        // Sequence 1 last moved at 0 s, sequence 2 at 50 s.
        #expect(receiver.expireSequences(idleSince: Self.at(30)) == 1)
        #expect(receiver.openSequences == 1)
        #expect(receiver.expiredSequences == 1)
        #expect(receiver.bufferedByteCount == parts[0].count + parts[1].count + 2 * DistributionFrameReceiver.pieceOverhead)
        #expect(try Self.feed(&receiver, Self.rest(2, 1, parts[2]), at: Self.at(60))?.payload == payload.term)
        #expect(receiver.bufferedByteCount == 0)

        // A straggler of the expired message waits on its own and expires in turn.
        #expect(try Self.feed(&receiver, Self.rest(1, 1, parts[2]), at: Self.at(70)) == nil)
        #expect(receiver.expireSequences(idleSince: Self.at(71)) == 1)
        #expect(receiver.openSequences == 0)
        #expect(receiver.bufferedByteCount == 0)
        #expect(receiver.expiredSequences == 2)
    }

    @Test("fragments may not add up to more than the message bound")
    func oversizedMessage() throws {
        // Each piece costs its bytes plus `pieceOverhead` (64): 60 + 64 + 113 + 64 = 301.
        var receiver = DistributionFrameReceiver(maxMessageSize: 300)
        _ = try Self.feed(&receiver, Self.first(1, 3, ArraySlice(repeating: 0, count: 60)))
        expectDistributionError({ try Self.feed(&receiver, Self.rest(1, 2, ArraySlice(repeating: 0, count: 113))) }) { error in
            if case .malformedFrame(let why) = error { why.contains("exceed 300 bytes") } else { false }
        }
        // The bound is on all open messages together.
        var two = DistributionFrameReceiver(maxMessageSize: 300)
        _ = try Self.feed(&two, Self.first(1, 3, ArraySlice(repeating: 0, count: 60)))
        expectDistributionError({ try Self.feed(&two, Self.first(2, 3, ArraySlice(repeating: 0, count: 113))) }) { error in
            if case .malformedFrame(let why) = error { why.contains("exceed") } else { false }
        }
    }

    @Test("endless tiny fragments with new ids are bounded too, not only their bytes")
    func tinyFragments() throws {
        var receiver = DistributionFrameReceiver(maxMessageSize: 1000)
        var stored = 0
        var refused = false
        for id in 1...1000 as ClosedRange<UInt64> {
            do {
                _ = try Self.feed(&receiver, Self.rest(7, id, [0]))
                stored += 1
            } catch {
                refused = true
                break
            }
        }
        #expect(refused)
        #expect(stored == 1000 / (1 + DistributionFrameReceiver.pieceOverhead))
    }

    @Test("no more than the bound of fragmented messages may be open at once")
    func tooManySequences() throws {
        var receiver = DistributionFrameReceiver(maxOpenSequences: 2)
        _ = try Self.feed(&receiver, Self.first(1, 2, [104]))
        _ = try Self.feed(&receiver, Self.rest(2, 1, [1]))
        // More fragments of an open message are fine.
        #expect(try Self.feed(&receiver, Self.rest(1, 1, Self.control[1...]))?.control == Self.decodedControl)
        _ = try Self.feed(&receiver, Self.first(3, 2, [1]))
        expectDistributionError({ try Self.feed(&receiver, Self.first(4, 2, [1])) }) { error in
            if case .malformedFrame(let why) = error { why.contains("more than 2") } else { false }
        }
    }
}
