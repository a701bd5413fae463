extension FlatTerm {
    /// Decodes `bytes`, which start with the version byte 131 and hold exactly one term, with
    /// `decoder`'s atom cache and limits. Accepts and rejects exactly what
    /// `decoder.decode(bytes)` does; when both reject, the error reported may be another of the
    /// input's faults (this reads a map's pairs before checking its keys).
    public init(decoding bytes: [UInt8], with decoder: TermDecoder = TermDecoder()) throws(TermDecodingError) {
        guard let version = bytes.first else { throw TermDecodingError(.truncated, at: 0) }
        guard version == ExternalTermFormat.version else { throw TermDecodingError(.badVersion(version), at: 0) }
        self = try FlatTerm(decodingTerm: bytes, from: 1, with: decoder)
    }

    /// Decodes the one term, without a version byte, that fills `bytes` from `start` to the end
    /// (plain or compressed): the form of a distribution frame's last term, the payload.
    public init(decodingTerm bytes: [UInt8], from start: Int, with decoder: TermDecoder = TermDecoder()) throws(TermDecodingError) {
        let count = bytes.count
        guard start >= 0, start <= count else { throw TermDecodingError(.truncated, at: start) }
        guard start < count, bytes[start] == ExternalTermFormat.Tag.compressed else {
            let (flat, end) = try FlatTermDecoder.decode(bytes, at: start, with: decoder)
            guard end == count else { throw TermDecodingError(.trailingBytes(count - end), at: end) }
            self = flat
            return
        }
        // A compressed term: inflated as `TermDecoder` does; the nodes refer into the inflated
        // bytes, and errors inside them are reported at the compressed term, as there.
        let inflation = bytes.withUnsafeBytes { (raw) -> Result<(inflated: [UInt8], end: Int), TermDecodingError> in
            do throws(TermDecodingError) {
                var reader = Reader(raw, decoder: decoder)
                reader.offset = start + 1
                return .success((try reader.inflate(), reader.offset))
            } catch {
                return .failure(error)
            }
        }
        let (inflated, end) = try inflation.get()
        do throws(TermDecodingError) {
            let (flat, innerEnd) = try FlatTermDecoder.decode(inflated, at: 0, with: decoder)
            guard innerEnd == inflated.count else { throw TermDecodingError(.trailingBytes(inflated.count - innerEnd), at: start) }
            self = flat
        } catch {
            throw TermDecodingError(error.kind, at: start)
        }
        guard end == count else { throw TermDecodingError(.trailingBytes(count - end), at: end) }
    }
}

/// Fills a thread's scratch room with the nodes of one term, then copies them out in one
/// allocation. Reads through `TermDecoder`'s `Reader` (its bounds checks, depth limit and the
/// kinds with no node of their own), so both decoders check the same things.
struct FlatTermDecoder {
    var reader: Reader
    /// The scratch room's nodes; re-read after every `allocate` or `room`, which may move them
    /// (so never `nodes[i] = f()` where `f` may allocate).
    var nodes: UnsafeMutablePointer<FlatNode>
    var capacity: Int
    var count = 0
    /// Nodes the input's headers have claimed. Each element of a real term starts with a byte
    /// of its own, so more than the input's bytes means headers that lie; they are refused
    /// before the room for them is made (a chain of tuple headers each claiming the rest of
    /// the input would otherwise ask for the input's size squared).
    var claimed = 0
    var boxed: [Term] = []
    /// Whether an atom cache reference was read: the flat term then keeps the header's atoms.
    var refersToHeader = false
    let scratch: FlatScratch

    /// Decodes the term at `offset` of `buffer` (no version byte); returns it and where it ends.
    static func decode(_ buffer: [UInt8], at offset: Int, with decoder: TermDecoder) throws(TermDecodingError) -> (FlatTerm, end: Int) {
        let scratch = FlatScratch.current
        let result = buffer.withUnsafeBytes { (raw) -> Result<(nodes: [FlatNode], boxed: [Term], header: Bool, end: Int), TermDecodingError> in
            do throws(TermDecodingError) {
                var decoder = FlatTermDecoder(reader: Reader(raw, decoder: decoder), nodes: scratch.nodes, capacity: scratch.capacity, scratch: scratch)
                decoder.reader.offset = offset
                let root = try decoder.allocate(1)
                try decoder.readValue(into: root)
                let nodes = Array(UnsafeBufferPointer(start: decoder.nodes, count: decoder.count))
                return .success((nodes, decoder.boxed, decoder.refersToHeader, decoder.reader.offset))
            } catch {
                return .failure(error)
            }
        }
        scratch.shrinkIfBig()
        let (nodes, boxed, header, end) = try result.get()
        return (FlatTerm(bytes: buffer, nodes: nodes, boxed: boxed, headerAtoms: header ? decoder.atomCache : []), end)
    }

    /// Room for `needed` nodes that the input claims (see `claimed`); returns the first's index.
    @inline(__always)
    mutating func allocate(_ needed: Int) throws(TermDecodingError) -> Int {
        claimed += needed
        guard claimed <= reader.raw.count else { throw TermDecodingError(.truncated, at: reader.offset) }
        return room(needed)
    }

    /// Room for `needed` nodes the decoder makes itself (a flattened list's copies).
    @inline(__always)
    mutating func room(_ needed: Int) -> Int {
        if count + needed > capacity {
            scratch.grow(to: count + needed, keeping: count)
            nodes = scratch.nodes
            capacity = scratch.capacity
        }
        let first = count
        count += needed
        return first
    }

    var view: FlatView { FlatView(nodes: UnsafePointer(nodes), raw: reader.raw, boxed: boxed, headerAtoms: reader.decoder.atomCache) }

    /// Reads one term into node `slot`. Only containers recurse, through this small function:
    /// every other tag is read by `readLeaf`, kept out of line so that its locals are not on
    /// the stack once per nesting level (as in `TermDecoder`; a debug build's frames are large).
    mutating func readValue(into slot: Int) throws(TermDecodingError) {
        typealias Tag = ExternalTermFormat.Tag
        let start = reader.offset
        guard start < reader.raw.count else { throw TermDecodingError(.truncated, at: start) }
        let tag = reader.raw[start]
        reader.offset = start + 1
        switch tag {
        case Tag.smallTuple:
            try readTuple(arity: Int(try reader.readByte()), into: slot)
        case Tag.largeTuple:
            try readTuple(arity: Int(try reader.read32()), into: slot)
        case Tag.list:
            try readList(into: slot)
        case Tag.map:
            try readMap(into: slot, start: start)
        default:
            try readLeaf(tag: tag, start: start, into: slot)
        }
    }

    /// A term that holds no nodes (`tag` at `start` already read).
    @inline(never)
    mutating func readLeaf(tag: UInt8, start: Int, into slot: Int) throws(TermDecodingError) {
        typealias Tag = ExternalTermFormat.Tag
        switch tag {
        case Tag.smallInteger:
            nodes[slot] = FlatNode(.integer, payload: UInt64(try reader.readByte()))
        case Tag.integer:
            nodes[slot] = FlatNode(.integer, payload: UInt64(bitPattern: Int64(Int32(bitPattern: try reader.read32()))))
        case Tag.smallAtomUTF8, Tag.atomUTF8, Tag.smallAtom, Tag.atom:
            try readAtom(into: slot, tag: tag, start: start)
        case Tag.nil:
            nodes[slot] = FlatNode(.list, payload: 0, count: 0)
        case Tag.string:
            let length = Int(try reader.read16())
            nodes[slot] = FlatNode(.string, payload: UInt64(try skip(length)), count: UInt32(length))
        case Tag.binary:
            let length = Int(try reader.read32())
            nodes[slot] = FlatNode(.binary, payload: UInt64(try skip(length)), count: UInt32(length))
        case Tag.bitBinary:
            let length = Int(try reader.read32())
            let bits = try reader.readByte()
            guard bits <= 8, (bits == 0) == (length == 0) else {
                throw TermDecodingError(.invalidValue("bitstring with \(bits) bits in its last byte"), at: start)
            }
            if bits == 8 || length == 0 {
                // Whole bytes: a binary (`Term.makeBitstring`).
                nodes[slot] = FlatNode(.binary, payload: UInt64(try skip(length)), count: UInt32(length))
            } else {
                reader.offset = start + 1
                box(try reader.readLeaf(tag: tag, start: start), into: slot)
            }
        case Tag.newFloat:
            let value = Double(bitPattern: try reader.read64())
            guard value.isFinite else { throw TermDecodingError(.invalidValue("float \(value)"), at: start) }
            nodes[slot] = FlatNode(.float, payload: value.bitPattern)
        case Tag.newFun:
            box(try reader.readFun(start: start), into: slot)
        case Tag.atomCacheRef:
            try readCachedAtom(into: slot, start: start)
        default:
            box(try reader.readLeaf(tag: tag, start: start), into: slot)
        }
    }

    /// Reads the leaves that fill most containers (integers, `[]`, ASCII atoms, binaries) into
    /// `slot`, inline in the container's loop, without `readValue`'s call (a third of
    /// ints_1000's instructions were its entry and exit); false for anything else, which the
    /// loop reads with `readValue` (not from here: that would add a frame per nesting level).
    @inline(__always)
    mutating func readCommonLeaf(into slot: Int) -> Bool {
        typealias Tag = ExternalTermFormat.Tag
        let raw = reader.raw
        let start = reader.offset
        if start < raw.count {
            switch raw[start] {
            case Tag.smallInteger where raw.count - start >= 2:
                nodes[slot] = FlatNode(.integer, payload: UInt64(raw[start + 1]))
                reader.offset = start + 2
                return true
            case Tag.integer where raw.count - start >= 5:
                let value = Int32(bitPattern: raw.loadUnaligned(fromByteOffset: start + 1, as: UInt32.self).bigEndian)
                nodes[slot] = FlatNode(.integer, payload: UInt64(bitPattern: Int64(value)))
                reader.offset = start + 5
                return true
            case Tag.nil:
                nodes[slot] = FlatNode(.list, payload: 0, count: 0)
                reader.offset = start + 1
                return true
            case Tag.smallAtomUTF8 where raw.count - start >= 2:
                let length = Int(raw[start + 1])
                if raw.count - start - 2 >= length, Self.isASCII(UnsafeRawBufferPointer(rebasing: raw[start + 2..<start + 2 + length])) {
                    nodes[slot] = FlatNode(.atom, payload: UInt64(start + 2), count: UInt32(length))
                    reader.offset = start + 2 + length
                    return true
                }
            case Tag.binary where raw.count - start >= 5:
                let length = Int(raw.loadUnaligned(fromByteOffset: start + 1, as: UInt32.self).bigEndian)
                if raw.count - start - 5 >= length {
                    nodes[slot] = FlatNode(.binary, payload: UInt64(start + 5), count: UInt32(length))
                    reader.offset = start + 5 + length
                    return true
                }
            default:
                break
            }
        }
        return false
    }

    /// Skips `length` bytes; returns where they start.
    @inline(__always)
    mutating func skip(_ length: Int) throws(TermDecodingError) -> Int {
        guard reader.remaining >= length else { throw TermDecodingError(.truncated, at: reader.offset) }
        let first = reader.offset
        reader.offset += length
        return first
    }

    /// A term of a kind with no node of its own, kept beside the nodes (integers and floats
    /// that came in legacy or big-integer encodings get their nodes).
    mutating func box(_ term: Term, into slot: Int) {
        switch term {
        case .integer(let value):
            nodes[slot] = FlatNode(.integer, payload: UInt64(bitPattern: Int64(value)))
        case .float(let value):
            nodes[slot] = FlatNode(.float, payload: value.bitPattern)
        case .atom:
            nodes[slot] = FlatNode(.boxedAtom, payload: UInt64(boxed.count))
            boxed.append(term)
        default:
            nodes[slot] = FlatNode(.boxed, payload: UInt64(boxed.count))
            boxed.append(term)
        }
    }

    /// An atom cache reference (a distribution frame's header names the atoms; an agent's
    /// reply refers to its ~130 metric names this way): a node holding the atom's index in the
    /// header's list, which the flat term keeps (one reference to the receiver's array). Boxing
    /// the header's atoms as terms, as this did before, copied each (a retain, and a release
    /// when the term went): 12,000 instructions of a metric collection.
    mutating func readCachedAtom(into slot: Int, start: Int) throws(TermDecodingError) {
        let index = Int(try reader.readByte())
        guard index < reader.decoder.atomCache.count else {
            throw TermDecodingError(.invalidValue("atom cache reference \(index) not in the header"), at: start)
        }
        refersToHeader = true
        nodes[slot] = FlatNode(.cachedAtom, payload: UInt64(index))
    }

    /// An atom whose name is in the input as UTF-8 becomes a node over those bytes; a Latin-1
    /// name with bytes over 127 and an atom cache reference are boxed.
    mutating func readAtom(into slot: Int, tag: UInt8, start: Int) throws(TermDecodingError) {
        typealias Tag = ExternalTermFormat.Tag
        let length: Int
        let latin1 = tag == Tag.smallAtom || tag == Tag.atom
        switch tag {
        case Tag.smallAtomUTF8, Tag.smallAtom: length = Int(try reader.readByte())
        default: length = Int(try reader.read16())
        }
        let first = try skip(length)
        let name = UnsafeRawBufferPointer(rebasing: reader.raw[first..<first + length])
        if latin1 {
            guard length <= Atom.maxLength else { throw TermDecodingError(.invalidAtom, at: start) }
            if name.contains(where: { $0 >= 0x80 }) {
                reader.offset = start
                box(.atom(try reader.readAtom()), into: slot)
                return
            }
        }
        // An ASCII name of at most 255 bytes is a valid atom as it is; others are checked as
        // `TermDecoder` checks them (the thread's atom table answers for names seen before).
        if length > Atom.maxLength || !Self.isASCII(name) { _ = try reader.utf8Atom(name, at: start) }
        nodes[slot] = FlatNode(.atom, payload: UInt64(first), count: UInt32(length))
    }

    /// Whether every byte is under 128: eight at a time, then the rest.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    mutating func readTuple(arity: Int, into slot: Int) throws(TermDecodingError) {
        try reader.enter(arity, of: 1)
        let first = try allocate(arity)
        for index in first..<first + arity where !readCommonLeaf(into: index) { try readValue(into: index) }
        reader.depth -= 1
        nodes[slot] = FlatNode(.tuple, payload: UInt64(first), count: UInt32(arity))
    }

    mutating func readList(into slot: Int) throws(TermDecodingError) {
        let length = Int(try reader.read32())
        try reader.enter(length, of: 1)
        let first = try allocate(length)
        for index in first..<first + length where !readCommonLeaf(into: index) { try readValue(into: index) }
        // A proper list, by far the most common, is done.
        if reader.offset < reader.raw.count, reader.raw[reader.offset] == ExternalTermFormat.Tag.nil {
            reader.offset += 1
            reader.depth -= 1
            nodes[slot] = FlatNode(.list, payload: UInt64(first), count: UInt32(length))
            return
        }
        let tailSlot = try allocate(1)
        try readValue(into: tailSlot)
        reader.depth -= 1
        // Joined first, stored after: `joined` may move the nodes, and `nodes[slot] = joined(…)`
        // would write through the pointer read before the call (a use after free that
        // AddressSanitizer found while merging the fuzz corpus).
        let list = joined(first: first, length: length, tail: nodes[tailSlot], at: tailSlot)
        nodes[slot] = list
    }

    /// `length` elements at `first` with a tail that is not `[]`, kept canonical as
    /// `Term.list(_:tail:)` keeps them: a list tail (proper, a string, or improper) is appended,
    /// no elements leave the tail alone. The result's children are consecutive: copied after
    /// the others unless the tail already follows the elements.
    mutating func joined(first: Int, length: Int, tail: FlatNode, at tailSlot: Int) -> FlatNode {
        guard length > 0 else { return tail }
        switch tail.kind {
        case .list, .string, .improperList:
            let tailLength = Int(tail.count)
            let tailChildren = tail.kind == .improperList ? tailLength + 1 : tailLength
            let joinedFirst = room(length + tailChildren)
            (nodes + joinedFirst).update(from: nodes + first, count: length)
            if tail.kind == .string {
                for index in 0..<tailLength {
                    nodes[joinedFirst + length + index] = FlatNode(.integer, payload: UInt64(reader.raw[Int(tail.payload) + index]))
                }
            } else {
                (nodes + joinedFirst + length).update(from: nodes + Int(tail.payload), count: tailChildren)
            }
            return FlatNode(tail.kind == .improperList ? .improperList : .list, payload: UInt64(joinedFirst), count: UInt32(length + tailLength))
        default:
            if tailSlot == first + length {
                return FlatNode(.improperList, payload: UInt64(first), count: UInt32(length))
            }
            let joinedFirst = room(length + 1)
            (nodes + joinedFirst).update(from: nodes + first, count: length)
            nodes[joinedFirst + length] = tail
            return FlatNode(.improperList, payload: UInt64(joinedFirst), count: UInt32(length))
        }
    }

    mutating func readMap(into slot: Int, start: Int) throws(TermDecodingError) {
        let pairs = Int(try reader.read32())
        try reader.enter(pairs, of: 2)
        let first = try allocate(2 * pairs)
        for index in first..<first + 2 * pairs where !readCommonLeaf(into: index) { try readValue(into: index) }
        reader.depth -= 1
        if let duplicate = firstDuplicateKey(first: first, pairs: pairs) {
            throw TermDecodingError(.invalidValue("map has the key \(view.term(nodes[first + 2 * duplicate]).abbreviatedDescription()) twice"), at: start)
        }
        nodes[slot] = FlatNode(.map, payload: UInt64(first), count: UInt32(pairs))
    }

    /// The first pair whose key equals an earlier pair's (the one `TermDecoder` reports), or nil.
    /// Small maps compare every two keys (mostly atoms: a length and a `memcmp`); bigger ones
    /// sort the keys' hashes and compare only keys whose hashes are equal.
    func firstDuplicateKey(first: Int, pairs: Int) -> Int? {
        guard pairs > 1 else { return nil }
        let view = self.view
        if pairs <= 8 {
            for later in 1..<pairs {
                for earlier in 0..<later where view.equal(nodes[first + 2 * earlier], nodes[first + 2 * later]) { return later }
            }
            return nil
        }
        var hashes = [(hash: Int, index: Int)]()
        hashes.reserveCapacity(pairs)
        for index in 0..<pairs {
            var hasher = Hasher()
            view.hash(nodes[first + 2 * index], into: &hasher)
            hashes.append((hasher.finalize(), index))
        }
        hashes.sort { $0.hash < $1.hash }
        var duplicate: Int?
        var start = 0
        while start < hashes.count {
            var end = start + 1
            while end < hashes.count, hashes[end].hash == hashes[start].hash { end += 1 }
            for later in start..<end {
                for earlier in start..<later {
                    let (a, b) = (hashes[earlier].index, hashes[later].index)
                    if view.equal(nodes[first + 2 * a], nodes[first + 2 * b]) { duplicate = min(duplicate ?? .max, max(a, b)) }
                }
            }
            start = end
        }
        return duplicate
    }
}

/// A thread's room for decoding nodes, kept between decodes (as `EncodeBuffer` is for encoding),
/// so a decode allocates only its result.
final class FlatScratch {
    /// Kept between decodes up to this many nodes (1 MiB); a bigger term's room is given back.
    static let keptCapacity = 1 << 16
    static let initialCapacity = 1 << 10

    private(set) var nodes: UnsafeMutablePointer<FlatNode>
    private(set) var capacity: Int

    init() {
        capacity = Self.initialCapacity
        nodes = .allocate(capacity: capacity)
    }

    deinit { nodes.deallocate() }

    func grow(to needed: Int, keeping used: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newNodes = UnsafeMutablePointer<FlatNode>.allocate(capacity: newCapacity)
        newNodes.moveInitialize(from: nodes, count: used)
        nodes.deallocate()
        nodes = newNodes
        capacity = newCapacity
    }

    func shrinkIfBig() {
        guard capacity > Self.keptCapacity else { return }
        nodes.deallocate()
        capacity = Self.initialCapacity
        nodes = .allocate(capacity: capacity)
    }

    /// This thread's room. A decode runs start to end on one thread and never starts another.
    static var current: FlatScratch { perThread.value }

    private static let perThread = ThreadLocal { FlatScratch() }
}
