@testable import ErlangDist
import ErlangTerm
import NIOCore
import Testing

/// Outgoing frames with atom cache references, read back by the frame receiver (which reads
/// what the BEAM sends; the OTP tests send every message this way to real nodes).
@Suite("frame encoder: atom cache references in the header")
struct FrameEncoderTests {
    /// Every frame in `buffer`, without its length.
    static func frames(_ buffer: ByteBuffer) -> [[UInt8]] {
        var buffer = buffer
        var frames: [[UInt8]] = []
        while let length = buffer.readInteger(as: UInt32.self) {
            frames.append(buffer.readBytes(length: Int(length))!)
        }
        #expect(buffer.readableBytes == 0)
        return frames
    }

    static func receive(_ receiver: inout DistributionFrameReceiver, _ frame: [UInt8]) throws -> (control: Term, payload: Term?)? {
        let result = frame.withUnsafeBytes { raw in
            Result { () throws(DistributionError) in try receiver.receive(raw, now: .uptimeNanoseconds(0)) }
        }
        return try result.get()
    }

    @Test("atoms go by reference: names the first time, slots after; the peer decodes every message alike")
    func references() throws {
        let control = ControlMessage.regSend(from: Pid(node: "numbat@127.0.0.1", id: 1, serial: 0, creation: 7), to: "numbat_bench_counter",
                                             message: .tuple([.atom("bench"), .integer(1), .binary([1, 2, 3]), .atom("bench"), .list([.atom(""), .atom("é")])]))
        let (term, payload) = control.encoded(flags: .numbat)
        var cache = OutgoingAtomCache()
        var receiver = DistributionFrameReceiver()
        var sizes: [Int] = []
        for _ in 0..<3 {
            var buffer = ByteBuffer()
            DistributionFrameEncoder().encode(control: term, payload: payload, cache: &cache, into: &buffer) { 1 }
            let frames = Self.frames(buffer)
            #expect(frames.count == 1)
            let frame = try #require(frames.first)
            // 131, 68, five atoms: the node, '', the name, bench, 'é' (each once).
            #expect(Array(frame.prefix(3)) == [131, 68, 5])
            let decoded = try #require(try Self.receive(&receiver, frame))
            #expect(decoded.control == term && decoded.payload == payload)
            sizes.append(frame.count)
        }
        // The names went once: later frames carry slots only.
        let names = ["numbat@127.0.0.1", "", "numbat_bench_counter", "bench", "é"].map { 1 + $0.utf8.count }.reduce(0, +)
        #expect(sizes[0] - sizes[1] == names && sizes[1] == sizes[2])
        // By name, the same message is bigger than by reference.
        var plain = ByteBuffer()
        DistributionFrameEncoder().encode(control: term, payload: payload, into: &plain) { 1 }
        let byName = try #require(Self.frames(plain).first)
        #expect(Array(byName.prefix(3)) == [131, 68, 0] && byName.count > sizes[1])
        #expect(try Self.receive(&receiver, byName)?.payload == payload)
    }

    @Test("atoms that share a slot replace each other, within a message and across messages, and a repeated header stops repeating then",
          arguments: [true, false])
    func sharedSlots(receiverSharesNames: Bool) throws {
        // Atoms until two share a slot.
        var bySlot: [UInt16: Atom] = [:]
        var pair: (Atom, Atom)?
        for index in 0..<10_000 where pair == nil {
            let atom = Atom("atom_\(index)")
            let slot = DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry(atom).hash)
            #expect(slot < 2048)
            if let other = bySlot[slot] { pair = (other, atom) } else { bySlot[slot] = atom }
        }
        let (a, b) = try #require(pair)
        var cache = OutgoingAtomCache()
        var receiver = DistributionFrameReceiver()
        // Not sharing: names kept by the connection, as past `SharedAtomNames.limit`.
        receiver.sharesNames = receiverSharesNames
        // [a] twice: the second repeats the first's header; then b takes the slot, and the
        // next [a] must name a again, not repeat the header kept before.
        for message in [[a, b, a], [a], [a], [b], [a], [a], [b, a, b, a], [b], [b]] {
            let payload = Term.list(message.map(Term.atom))
            var buffer = ByteBuffer()
            DistributionFrameEncoder().encode(control: .tuple([.integer(2), .atom(""), .pid(Pid(node: "n@h", id: 1, serial: 0, creation: 1))]),
                                              payload: payload, cache: &cache, into: &buffer) { 1 }
            let frame = try #require(Self.frames(buffer).first)
            let decoded = try #require(try Self.receive(&receiver, frame))
            #expect(decoded.payload == payload)
        }
    }

    @Test("a fragmented message lists its atoms in its first fragment; more than 255 atoms, and long names, go by name")
    func fragmentsAndLimits() throws {
        let atoms = (0..<300).map { Term.atom(Atom("fragment_atom_\($0)")) } + [.atom(Atom(String(repeating: "ж", count: 200)))]
        let payload = Term.tuple([.list(atoms), .binary([UInt8](repeating: 7, count: 5_000))])
        let control = Term.tuple([.integer(2), .atom(""), .pid(Pid(node: "n@h", id: 1, serial: 0, creation: 1))])
        var cache = OutgoingAtomCache()
        var receiver = DistributionFrameReceiver()
        for round in 0..<2 {
            var buffer = ByteBuffer()
            DistributionFrameEncoder(fragmentSize: 1_000).encode(control: control, payload: payload, cache: &cache, into: &buffer) { UInt64(10 + round) }
            let frames = Self.frames(buffer)
            #expect(frames.count > 5 && frames[0][1] == 69 && frames.dropFirst().allSatisfy { $0[1] == 70 })
            // The header's count, after the sequence and fragment ids: 255, the most.
            #expect(frames[0][18] == 255)
            var decoded: (control: Term, payload: Term?)?
            for frame in frames { decoded = try Self.receive(&receiver, frame) }
            #expect(decoded?.control == control && decoded?.payload == payload, "round \(round)")
        }
    }

    @Test("the table remembers at most its limit of slots: the first stay by reference, later ones go by name each time, and a remembered slot taken by another atom is updated")
    func boundedTable() throws {
        let control = Term.tuple([.integer(2), .atom(""), .pid(Pid(node: "n@h", id: 1, serial: 0, creation: 1))])
        var cache = OutgoingAtomCache()
        var receiver = DistributionFrameReceiver()
        /// Sends `atoms` as one message; the frame's size, after checking the peer reads it back.
        func send(_ atoms: [Atom]) throws -> Int {
            let payload = Term.list(atoms.map(Term.atom))
            var buffer = ByteBuffer()
            DistributionFrameEncoder().encode(control: control, payload: payload, cache: &cache, into: &buffer) { 1 }
            let frame = try #require(Self.frames(buffer).first)
            let decoded = try #require(try Self.receive(&receiver, frame))
            #expect(decoded.control == control && decoded.payload == payload)
            return frame.count
        }
        // Distinct slots, more than the table keeps (the control's two atoms take two).
        var bySlot: [UInt16: Atom] = [:]
        var atoms: [Atom] = []
        for index in 0..<10_000 where atoms.count < 3 * OutgoingAtomCache.limit {
            let atom = Atom("bounded_\(index)")
            let slot = DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry(atom).hash)
            if bySlot[slot] == nil, slot != DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry("").hash),
               slot != DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry("n@h").hash) {
                bySlot[slot] = atom
                atoms.append(atom)
            }
        }
        for atom in atoms { _ = try send([atom]) }
        #expect(cache.table.count == OutgoingAtomCache.limit)
        // A remembered atom goes by slot; one sent after the table filled goes by name every time.
        let early = atoms[0], late = atoms[atoms.count - 1]
        let earlySizes = [try send([early]), try send([early])]
        let lateSizes = [try send([late]), try send([late])]
        #expect(earlySizes[0] == earlySizes[1] && lateSizes[0] == lateSizes[1])
        #expect(lateSizes[0] == earlySizes[0] + 1 + late.name.utf8.count)
        // An atom sharing a remembered slot takes it, at the peer and in the table: then the
        // remembered atom must go by name again, and the peer still reads everything right.
        let earlySlot = DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry(early).hash)
        let rival = try #require((0..<100_000).lazy.map { Atom("rival_\($0)") }
            .first { DistributionFrameEncoder.slot(hash: AtomCacheRefs.Entry($0).hash) == earlySlot })
        _ = try send([rival])
        #expect(cache.table.count == OutgoingAtomCache.limit && cache.table.holds(rival, at: earlySlot))
        _ = try send([early, rival, late])
        let renamed = try send([early]), again = try send([early])
        #expect(renamed == again + 1 + early.name.utf8.count)
    }
}
