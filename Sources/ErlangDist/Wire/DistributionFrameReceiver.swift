import ErlangTerm
import NIOCore

/// Turns received distribution frames into control messages: reads distribution headers,
/// keeps the connection's atom cache, and reassembles fragmented messages. Pure: the caller
/// supplies the time, so tests drive reassembly and expiry without a clock. One per
/// connection, fed on the connection's event loop.
///
/// Fragments of one message are kept by fragment id, so they may arrive in any order (the BEAM
/// sends them in order, but nothing here depends on it); a message whose fragments stop arriving
/// is dropped by `expireSequences(idleSince:)` instead of holding its bytes for the connection's
/// lifetime.
struct DistributionFrameReceiver {
    /// The atom cache the peer fills through `NewCacheEntryFlag` header entries: 2048 slots
    /// (`0..<2048`). Kept sparse (`AtomCacheTable`): a peer fills only the slots of the atoms
    /// it sends on this connection (none, for a peer that sends no headers), and a dense table
    /// of 2048 optional atoms would cost 32 KiB on every connection, a tenth of Numbat's memory
    /// per managed node. Each slot holds the index of its name in `SharedAtomNames`, 2 bytes
    /// rather than an atom's 16: a node's metric replies, log events and alarms fill a few
    /// hundred slots, and a server holds one table per managed node.
    private var atomCache = AtomCacheTable<UInt16>(filler: 0)
    /// The names of slots marked `unshared` in `atomCache`: names past `SharedAtomNames.limit`
    /// (a peer inventing atoms), kept by the connection.
    private var unsharedAtoms: [UInt16: Atom] = [:]
    private static let unshared = UInt16.max
    /// Whether new names go to `SharedAtomNames`; false only in tests, for the path names take
    /// past its limit.
    var sharesNames = true
    private var partials: [UInt64: Partial] = [:]
    private var bufferedBytes = 0
    /// Largest message, in bytes, that fragments may add up to.
    var maxMessageSize: Int
    /// Most fragmented messages that may be in flight at once.
    var maxOpenSequences: Int
    /// Fragmented messages dropped so far because their fragments stopped arriving.
    private(set) var expiredSequences = 0

    /// One fragmented message being put together.
    private struct Partial {
        /// From the first fragment (131,69): how many fragments the message has, and the atom
        /// cache references its terms use. Nil while only continuations have arrived.
        var first: (count: UInt64, atoms: [Atom])?
        /// Fragment bodies by fragment id (the first fragment has the highest id, the last 1).
        var pieces: [UInt64: [UInt8]] = [:]
        var byteCount = 0
        /// When the last fragment of this message arrived, for expiry.
        var lastProgress: NIODeadline
    }

    init(maxMessageSize: Int = 512 << 20, maxOpenSequences: Int = 1024) {
        self.maxMessageSize = maxMessageSize
        self.maxOpenSequences = maxOpenSequences
    }

    /// Fragmented messages still waiting for fragments.
    var openSequences: Int { partials.count }

    /// Bytes held by incomplete fragmented messages.
    var bufferedByteCount: Int { bufferedBytes }

    /// A message received whole: its control tuple and its payload, if it has one, as a `Term`
    /// or, for a message the caller asked to have flat, as a `FlatTerm`.
    struct Received {
        var control: Term
        var payload: Term? = nil
        var flatPayload: FlatTerm? = nil
    }

    /// Decodes one non-empty frame received at `now`. Returns nil while a fragmented message is
    /// incomplete. An error means the peer broke the protocol: the connection closes and this
    /// receiver is not used again.
    mutating func receive(_ frame: UnsafeRawBufferPointer, now: NIODeadline) throws(DistributionError) -> (control: Term, payload: Term?)? {
        try receive(frame, now: now, flatPayloadFor: { _ in false }).map { ($0.control, $0.payload) }
    }

    /// `receive(_:now:)`, decoding the payload into a `FlatTerm` when `flatPayloadFor` says so
    /// of the message's control tuple (decoded first): for replies read in place, such as a
    /// metric collection's, whose `Term` would cost an allocation per tuple and binary.
    mutating func receive(_ frame: UnsafeRawBufferPointer, now: NIODeadline,
                          flatPayloadFor wantsFlat: (Term) -> Bool) throws(DistributionError) -> Received? {
        var cursor = FrameCursor(frame)
        let first = try cursor.byte()
        if first == 112 {
            // Pass-through: only from peers that negotiated neither headers nor fragments.
            return try Self.decodeTerms(frame, from: cursor.offset, atoms: [], versioned: true, flat: wantsFlat)
        }
        guard first == ExternalTermFormat.version else {
            throw .malformedFrame("frame starts with \(first), not 131 or 112")
        }
        switch try cursor.byte() {
        case 68:
            let atoms = try readAtomCacheRefs(&cursor)
            return try Self.decodeTerms(frame, from: cursor.offset, atoms: atoms, versioned: false, flat: wantsFlat)
        case 69:
            let sequence = try cursor.uint64()
            let fragment = try cursor.uint64()
            let atoms = try readAtomCacheRefs(&cursor)
            guard fragment >= 1 else { throw .malformedFrame("fragment id 0") }
            if fragment == 1, partials[sequence] == nil {
                return try Self.decodeTerms(frame, from: cursor.offset, atoms: atoms, versioned: false, flat: wantsFlat)
            }
            var partial = try open(sequence, now: now)
            guard partial.first == nil else { throw .malformedFrame("fragment sequence \(sequence) started twice") }
            if let beyond = partial.pieces.keys.first(where: { $0 >= fragment }) {
                throw .malformedFrame("fragment \(beyond) of sequence \(sequence) is beyond its first fragment, \(fragment)")
            }
            partial.first = (fragment, atoms)
            return try store(Array(UnsafeRawBufferPointer(rebasing: frame[cursor.offset...])), as: fragment,
                             of: sequence, in: partial, now: now, flat: wantsFlat)
        case 70:
            let sequence = try cursor.uint64()
            let fragment = try cursor.uint64()
            guard fragment >= 1 else { throw .malformedFrame("fragment id 0") }
            let partial = try open(sequence, now: now)
            if let first = partial.first, fragment >= first.count {
                throw .malformedFrame("fragment \(fragment) of sequence \(sequence) is beyond its first fragment, \(first.count)")
            }
            return try store(Array(UnsafeRawBufferPointer(rebasing: frame[cursor.offset...])), as: fragment,
                             of: sequence, in: partial, now: now, flat: wantsFlat)
        case let other:
            throw .malformedFrame("unknown distribution header type \(other)")
        }
    }

    /// What one stored fragment costs beyond its bytes, counted against `maxMessageSize`.
    static let pieceOverhead = 64

    /// Drops fragmented messages that have had no fragment since `deadline`: a peer that stops
    /// sending a message's fragments must not hold its bytes (up to `maxMessageSize`) for as long
    /// as the connection lives. Returns how many were dropped.
    @discardableResult
    mutating func expireSequences(idleSince deadline: NIODeadline) -> Int {
        let stale = partials.filter { $0.value.lastProgress < deadline }
        for (sequence, partial) in stale {
            partials[sequence] = nil
            bufferedBytes -= partial.byteCount
        }
        expiredSequences += stale.count
        return stale.count
    }

    /// Takes the partial message of `sequence` out of the table (so adding to it copies nothing),
    /// or makes a new one if there is room for it. `store` puts it back.
    private mutating func open(_ sequence: UInt64, now: NIODeadline) throws(DistributionError) -> Partial {
        if let partial = partials.removeValue(forKey: sequence) { return partial }
        guard partials.count < maxOpenSequences else {
            throw .malformedFrame("more than \(maxOpenSequences) fragmented messages in flight")
        }
        return Partial(lastProgress: now)
    }

    /// Adds one fragment's body; decodes the message once every fragment is in.
    private mutating func store(_ data: [UInt8], as fragment: UInt64, of sequence: UInt64, in partial: consuming Partial,
                                now: NIODeadline, flat wantsFlat: (Term) -> Bool) throws(DistributionError) -> Received? {
        guard partial.pieces[fragment] == nil else {
            throw .malformedFrame("fragment \(fragment) of sequence \(sequence) arrived twice")
        }
        // Each piece is charged what keeping it costs besides its bytes (its table entry and
        // array), so endless tiny fragments are bounded like large ones.
        let cost = data.count + Self.pieceOverhead
        guard bufferedBytes + cost <= maxMessageSize else {
            throw .malformedFrame("fragmented messages exceed \(maxMessageSize) bytes")
        }
        bufferedBytes += cost
        partial.byteCount += cost
        partial.pieces[fragment] = data
        partial.lastProgress = now
        guard let first = partial.first, UInt64(partial.pieces.count) == first.count else {
            partials[sequence] = partial
            return nil
        }
        bufferedBytes -= partial.byteCount
        var bytes = [UInt8]()
        bytes.reserveCapacity(partial.byteCount - partial.pieces.count * Self.pieceOverhead)
        for id in stride(from: first.count, through: 1, by: -1) {
            bytes += partial.pieces[id]!
        }
        let result = bytes.withUnsafeBytes { raw -> Result<Received, DistributionError> in
            Result { () throws(DistributionError) in try Self.decodeTerms(raw, from: 0, atoms: first.atoms, versioned: false, flat: wantsFlat) }
        }
        return try result.get()
    }

    /// Reads `NumberOfAtomCacheRefs`, the flag nibbles and the refs; updates the cache.
    private mutating func readAtomCacheRefs(_ cursor: inout FrameCursor) throws(DistributionError) -> [Atom] {
        let count = Int(try cursor.byte())
        guard count > 0 else { return [] }
        // The flag bytes read in place (a copy was an allocation per frame).
        let flags = UnsafeRawBufferPointer(rebasing: cursor.raw[cursor.offset...].prefix(count / 2 + 1))
        try cursor.skip(count / 2 + 1)
        let longAtoms = (flags[count / 2] >> (4 * UInt8(count % 2))) & 1 == 1
        var atoms = [Atom]()
        atoms.reserveCapacity(count)
        let sharedNames = SharedAtomNames.byIndex
        for index in 0..<count {
            let nibble = (flags[index / 2] >> (4 * UInt8(index % 2))) & 0xF
            let slot = UInt16(nibble & 7) << 8 | UInt16(try cursor.byte())
            if nibble & 8 != 0 {
                let length = longAtoms ? Int(try cursor.uint16()) : Int(try cursor.byte())
                let text = try cursor.bytes(length)
                guard let name = String(validating: text, as: UTF8.self) else {
                    throw .malformedFrame("atom cache entry is not UTF-8")
                }
                if sharesNames, let shared = SharedAtomNames.index(of: Atom(name)) {
                    atomCache[slot] = shared
                    if !unsharedAtoms.isEmpty { unsharedAtoms[slot] = nil }
                } else {
                    atomCache[slot] = Self.unshared
                    unsharedAtoms[slot] = Atom(name)
                }
            }
            guard let shared = atomCache[slot] else {
                throw .malformedFrame("atom cache slot \(slot) used before it was filled")
            }
            if shared != Self.unshared {
                atoms.append(sharedNames[Int(shared)])
            } else {
                guard let atom = unsharedAtoms[slot] else {
                    throw .malformedFrame("atom cache slot \(slot) used before it was filled")
                }
                atoms.append(atom)
            }
        }
        return atoms
    }

    /// Decodes the control message and, if bytes remain, the payload: into a `FlatTerm` (over a
    /// copy of the payload's bytes) when `wantsFlat` says so of the control.
    private static func decodeTerms(_ raw: UnsafeRawBufferPointer, from start: Int, atoms: [Atom], versioned: Bool,
                                    flat wantsFlat: (Term) -> Bool) throws(DistributionError) -> Received {
        let decoder = TermDecoder(atomCache: atoms)
        var offset = start
        do {
            if versioned { try skipVersion(raw, &offset) }
            let control = try decoder.decode(raw, offset: &offset)
            guard offset < raw.count else { return Received(control: control) }
            if versioned { try skipVersion(raw, &offset) }
            if wantsFlat(control) {
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: raw[offset...]))
                return Received(control: control, flatPayload: try FlatTerm(decodingTerm: bytes, from: 0, with: decoder))
            }
            let payload = try decoder.decode(raw, offset: &offset)
            guard offset == raw.count else { throw DistributionError.malformedFrame("\(raw.count - offset) bytes after the payload") }
            return Received(control: control, payload: payload)
        } catch let error as TermDecodingError {
            throw .malformedFrame("\(error)")
        } catch let error as DistributionError {
            throw error
        } catch {
            throw .malformedFrame("\(error)")
        }
    }

    private static func skipVersion(_ raw: UnsafeRawBufferPointer, _ offset: inout Int) throws(DistributionError) {
        guard offset < raw.count, raw[offset] == ExternalTermFormat.version else {
            throw .malformedFrame("pass-through term without version byte")
        }
        offset += 1
    }
}

/// Bounds-checked reads over a frame.
struct FrameCursor {
    let raw: UnsafeRawBufferPointer
    var offset = 0

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    mutating func byte() throws(DistributionError) -> UInt8 {
        guard offset < raw.count else { throw .malformedFrame("frame is truncated") }
        defer { offset += 1 }
        return raw[offset]
    }

    mutating func uint16() throws(DistributionError) -> UInt16 {
        UInt16(try byte()) << 8 | UInt16(try byte())
    }

    mutating func uint64() throws(DistributionError) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(try byte()) }
        return value
    }

    mutating func skip(_ count: Int) throws(DistributionError) {
        guard raw.count - offset >= count else { throw .malformedFrame("frame is truncated") }
        offset += count
    }

    mutating func bytes(_ count: Int) throws(DistributionError) -> [UInt8] {
        guard raw.count - offset >= count else { throw .malformedFrame("frame is truncated") }
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
    }
}
