import ErlangTerm

/// Turns received distribution frames into control messages: reads distribution headers,
/// keeps the connection's atom cache, and reassembles fragmented messages. Pure; one per
/// connection, fed on the connection's event loop.
struct DistributionFrameReceiver {
    /// The 2048-slot atom cache the peer fills through `NewCacheEntryFlag` header entries.
    private var atomCache = [Atom?](repeating: nil, count: 2048)
    private var partials: [UInt64: Partial] = [:]
    private var bufferedBytes = 0
    /// Largest message, in bytes, that fragments may add up to.
    var maxMessageSize: Int
    /// Most fragmented messages that may be in flight at once.
    var maxOpenSequences: Int

    private struct Partial {
        var nextFragment: UInt64
        var atoms: [Atom]
        var bytes: [UInt8]
    }

    init(maxMessageSize: Int = 512 << 20, maxOpenSequences: Int = 1024) {
        self.maxMessageSize = maxMessageSize
        self.maxOpenSequences = maxOpenSequences
    }

    /// Fragments still waiting for their rest.
    var openSequences: Int { partials.count }

    /// Decodes one non-empty frame. Returns nil while a fragmented message is incomplete.
    mutating func receive(_ frame: UnsafeRawBufferPointer) throws(DistributionError) -> (control: Term, payload: Term?)? {
        var cursor = FrameCursor(frame)
        let first = try cursor.byte()
        if first == 112 {
            // Pass-through: only from peers that negotiated neither headers nor fragments.
            return try Self.decodeTerms(frame, from: cursor.offset, atoms: [], versioned: true)
        }
        guard first == ExternalTermFormat.version else {
            throw .malformedFrame("frame starts with \(first), not 131 or 112")
        }
        switch try cursor.byte() {
        case 68:
            let atoms = try readAtomCacheRefs(&cursor)
            return try Self.decodeTerms(frame, from: cursor.offset, atoms: atoms, versioned: false)
        case 69:
            let sequence = try cursor.uint64()
            let fragment = try cursor.uint64()
            let atoms = try readAtomCacheRefs(&cursor)
            guard fragment >= 1 else { throw .malformedFrame("fragment id 0") }
            if fragment == 1 {
                return try Self.decodeTerms(frame, from: cursor.offset, atoms: atoms, versioned: false)
            }
            guard partials[sequence] == nil else { throw .malformedFrame("fragment sequence \(sequence) started twice") }
            guard partials.count < maxOpenSequences else { throw .malformedFrame("more than \(maxOpenSequences) fragmented messages in flight") }
            let data = Array(UnsafeRawBufferPointer(rebasing: frame[cursor.offset...]))
            try account(data.count)
            partials[sequence] = Partial(nextFragment: fragment - 1, atoms: atoms, bytes: data)
            return nil
        case 70:
            let sequence = try cursor.uint64()
            let fragment = try cursor.uint64()
            guard var partial = partials.removeValue(forKey: sequence) else {
                throw .malformedFrame("continuation of unknown fragment sequence \(sequence)")
            }
            guard fragment == partial.nextFragment else {
                bufferedBytes -= partial.bytes.count
                throw .malformedFrame("fragment \(fragment) of sequence \(sequence) arrived, expected \(partial.nextFragment)")
            }
            let count = frame.count - cursor.offset
            try account(count)
            partial.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: frame[cursor.offset...]))
            if fragment > 1 {
                partial.nextFragment = fragment - 1
                partials[sequence] = partial
                return nil
            }
            bufferedBytes -= partial.bytes.count
            let atoms = partial.atoms
            let result = partial.bytes.withUnsafeBytes { raw -> Result<(control: Term, payload: Term?), DistributionError> in
                Result { () throws(DistributionError) in try Self.decodeTerms(raw, from: 0, atoms: atoms, versioned: false) }
            }
            return try result.get()
        case let other:
            throw .malformedFrame("unknown distribution header type \(other)")
        }
    }

    private mutating func account(_ count: Int) throws(DistributionError) {
        bufferedBytes += count
        guard bufferedBytes <= maxMessageSize else {
            throw .malformedFrame("fragmented messages exceed \(maxMessageSize) bytes")
        }
    }

    /// Reads `NumberOfAtomCacheRefs`, the flag nibbles and the refs; updates the cache.
    private mutating func readAtomCacheRefs(_ cursor: inout FrameCursor) throws(DistributionError) -> [Atom] {
        let count = Int(try cursor.byte())
        guard count > 0 else { return [] }
        let flags = try cursor.bytes(count / 2 + 1)
        let longAtoms = (flags[count / 2] >> (4 * UInt8(count % 2))) & 1 == 1
        var atoms = [Atom]()
        atoms.reserveCapacity(count)
        for index in 0..<count {
            let nibble = (flags[index / 2] >> (4 * UInt8(index % 2))) & 0xF
            let slot = Int(nibble & 7) * 256 + Int(try cursor.byte())
            if nibble & 8 != 0 {
                let length = longAtoms ? Int(try cursor.uint16()) : Int(try cursor.byte())
                let text = try cursor.bytes(length)
                guard let name = String(validating: text, as: UTF8.self) else {
                    throw .malformedFrame("atom cache entry is not UTF-8")
                }
                atomCache[slot] = Atom(name)
            }
            guard let atom = atomCache[slot] else {
                throw .malformedFrame("atom cache slot \(slot) used before it was filled")
            }
            atoms.append(atom)
        }
        return atoms
    }

    /// Decodes the control message and, if bytes remain, the payload.
    private static func decodeTerms(_ raw: UnsafeRawBufferPointer, from start: Int, atoms: [Atom], versioned: Bool) throws(DistributionError) -> (control: Term, payload: Term?) {
        let decoder = TermDecoder(atomCache: atoms)
        var offset = start
        do {
            if versioned { try skipVersion(raw, &offset) }
            let control = try decoder.decode(raw, offset: &offset)
            guard offset < raw.count else { return (control, nil) }
            if versioned { try skipVersion(raw, &offset) }
            let payload = try decoder.decode(raw, offset: &offset)
            guard offset == raw.count else { throw DistributionError.malformedFrame("\(raw.count - offset) bytes after the payload") }
            return (control, payload)
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

    mutating func bytes(_ count: Int) throws(DistributionError) -> [UInt8] {
        guard raw.count - offset >= count else { throw .malformedFrame("frame is truncated") }
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
    }
}
