import BigInt
import CompressNIO
import NIOCore

/// Decodes the External Term Format: every tag OTP 25–28 produces, plus the legacy ones.
///
/// Decoding never traps on bad input: lengths are checked against the bytes present before
/// anything is allocated, nesting is bounded, and every failure is a `TermDecodingError`.
public struct TermDecoder: Sendable {
    /// Atoms of the distribution header's atom cache, for `ATOM_CACHE_REF` (tag 82).
    public var atomCache: [Atom]
    /// Deepest nesting of tuples, lists, maps and funs accepted.
    ///
    /// Decoding recurses once per level, and so do `Term`'s `==`, hashing, encoding and
    /// description: up to about 1 KB of stack per level in an optimised build, 3 KB in a debug
    /// build. The default 2,000 levels (2 MB, 6 MB in a debug build) fit the 8 MB threads Linux
    /// gives by default (the main thread, Swift concurrency's and NIO's); lower it for threads
    /// with small stacks, such as Darwin's 512 KB secondary threads.
    public var maxDepth: Int
    /// Largest uncompressed size accepted for a compressed term (tag 80).
    public var maxUncompressedSize: Int

    public init(atomCache: [Atom] = [], maxDepth: Int = 2_000, maxUncompressedSize: Int = 256 << 20) {
        self.atomCache = atomCache
        self.maxDepth = maxDepth
        self.maxUncompressedSize = maxUncompressedSize
    }

    /// Decodes `bytes`, which start with the version byte 131, and must hold exactly one term.
    public func decode(_ bytes: [UInt8]) throws(TermDecodingError) -> Term {
        let result = bytes.withUnsafeBytes { (raw) -> Result<Term, TermDecodingError> in
            do throws(TermDecodingError) {
                var reader = Reader(raw, decoder: self)
                let version = try reader.readByte()
                guard version == ExternalTermFormat.version else {
                    throw TermDecodingError(.badVersion(version), at: 0)
                }
                let term = try reader.readTopLevel()
                guard reader.offset == raw.count else {
                    throw TermDecodingError(.trailingBytes(raw.count - reader.offset), at: reader.offset)
                }
                return .success(term)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Decodes one term without a version byte starting at `offset` of `raw`, and advances
    /// `offset` past it; the form used inside distribution frames.
    public func decode(_ raw: UnsafeRawBufferPointer, offset: inout Int) throws(TermDecodingError) -> Term {
        // An offset outside the buffer is the caller's mistake, but it must not become an
        // out-of-bounds read: report it as a term that ends before it starts.
        guard offset >= 0, offset <= raw.count else { throw TermDecodingError(.truncated, at: offset) }
        var reader = Reader(raw, decoder: self)
        reader.offset = offset
        let term = try reader.readTopLevel()
        offset = reader.offset
        return term
    }
}

extension Term {
    /// Decodes what `term_to_binary/1,2` produced.
    public init(decoding bytes: [UInt8]) throws(TermDecodingError) {
        self = try TermDecoder().decode(bytes)
    }
}

/// A cursor over the input; all reads are bounds-checked. `FlatTermDecoder` reads through it too.
struct Reader {
    let raw: UnsafeRawBufferPointer
    let decoder: TermDecoder
    /// This thread's recently decoded atoms (see `AtomTable`).
    let atoms: AtomTable
    var offset = 0
    var depth = 0
    /// Elements containers may still reserve room for up front (see `reserve`).
    var reservable: Int

    init(_ raw: UnsafeRawBufferPointer, decoder: TermDecoder) {
        self.raw = raw
        self.decoder = decoder
        self.atoms = AtomTable.current
        self.reservable = raw.count
    }

    var remaining: Int { raw.count - offset }

    @inline(__always) mutating func readByte() throws(TermDecodingError) -> UInt8 {
        guard offset < raw.count else { throw TermDecodingError(.truncated, at: offset) }
        let byte = raw[offset]
        offset += 1
        return byte
    }

    @inline(__always) mutating func read16() throws(TermDecodingError) -> UInt16 {
        guard remaining >= 2 else { throw TermDecodingError(.truncated, at: offset) }
        let value = raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self).bigEndian
        offset += 2
        return value
    }

    @inline(__always) mutating func read32() throws(TermDecodingError) -> UInt32 {
        guard remaining >= 4 else { throw TermDecodingError(.truncated, at: offset) }
        let value = raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian
        offset += 4
        return value
    }

    @inline(__always) mutating func read64() throws(TermDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw TermDecodingError(.truncated, at: offset) }
        let value = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self).bigEndian
        offset += 8
        return value
    }

    mutating func readBytes(_ count: Int) throws(TermDecodingError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw TermDecodingError(.truncated, at: offset) }
        let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
        offset += count
        return bytes
    }

    /// Checks that `count` items of at least `minimumSize` bytes each can still be present.
    @inline(__always) func require(_ count: Int, of minimumSize: Int) throws(TermDecodingError) {
        guard count <= remaining / minimumSize else { throw TermDecodingError(.truncated, at: offset) }
    }

    /// How many elements to reserve room for when a header declares `count`.
    ///
    /// `require` bounds a count by the bytes left, but not the sum over nesting levels: a chain
    /// of 2,000 tuple headers that each claim the rest of a 1 MB input would otherwise reserve
    /// 2,000 × 1 M elements before the first leaf is read. Every element takes at least one byte
    /// of input, so the containers of a real term together declare at most as many elements as
    /// the input has bytes: that is the budget. Real terms get their exact room at once; a lying
    /// chain gets at most the input's size in elements, and its arrays grow geometrically after.
    @inline(__always) mutating func reserve(_ count: Int) -> Int {
        let granted = min(count, reservable)
        reservable -= granted
        return granted
    }

    /// One element of a container. The leaves that fill most containers (integers, atoms,
    /// `[]`) are read here, inline in the container's loop; the rest through `readTerm`.
    @inline(__always) mutating func readElement() throws(TermDecodingError) -> Term {
        if offset < raw.count {
            switch raw[offset] {
            case ExternalTermFormat.Tag.smallInteger where offset + 1 < raw.count:
                let value = raw[offset + 1]
                offset += 2
                return .integer(Int(value))
            case ExternalTermFormat.Tag.integer where raw.count - offset >= 5:
                // Integers from 256 on (a counter, a size, a timestamp in seconds): through
                // `readTerm` and `readLeaf`, two calls and a second switch per element.
                let value = raw.loadUnaligned(fromByteOffset: offset + 1, as: UInt32.self).bigEndian
                offset += 5
                return .integer(Int(Int32(bitPattern: value)))
            case ExternalTermFormat.Tag.smallAtomUTF8 where offset + 1 < raw.count:
                let count = Int(raw[offset + 1])
                if raw.count - offset - 2 >= count {
                    let start = offset
                    offset += 2 + count
                    return .atom(try utf8Atom(UnsafeRawBufferPointer(rebasing: raw[start + 2..<start + 2 + count]), at: start))
                }
            case ExternalTermFormat.Tag.nil:
                offset += 1
                return .list([])
            default:
                break
            }
        }
        return try readTerm()
    }

    mutating func readTopLevel() throws(TermDecodingError) -> Term {
        if offset < raw.count, raw[offset] == ExternalTermFormat.Tag.compressed {
            offset += 1
            return try readCompressed()
        }
        return try readTerm()
    }

    /// One term. Only containers recurse, through this small function: every other tag is
    /// read by `readLeaf`, kept out of line so that its many locals (several kilobytes of stack
    /// in a debug build) are not on the stack once per nesting level.
    mutating func readTerm() throws(TermDecodingError) -> Term {
        let start = offset
        let tag = try readByte()
        switch tag {
        case ExternalTermFormat.Tag.smallTuple:
            return try readTuple(arity: Int(try readByte()))
        case ExternalTermFormat.Tag.largeTuple:
            return try readTuple(arity: Int(try read32()))
        case ExternalTermFormat.Tag.list:
            return try readList()
        case ExternalTermFormat.Tag.map:
            return try readMap()
        case ExternalTermFormat.Tag.newFun:
            return try readFun(start: start)
        default:
            return try readLeaf(tag: tag, start: start)
        }
    }

    /// A term that holds no other terms (`tag` at `start` already read).
    @inline(never)
    mutating func readLeaf(tag: UInt8, start: Int) throws(TermDecodingError) -> Term {
        switch tag {
        case ExternalTermFormat.Tag.smallInteger:
            return .integer(Int(try readByte()))
        case ExternalTermFormat.Tag.integer:
            return .integer(Int(Int32(bitPattern: try read32())))
        case ExternalTermFormat.Tag.smallAtomUTF8, ExternalTermFormat.Tag.smallAtom,
            ExternalTermFormat.Tag.atomUTF8, ExternalTermFormat.Tag.atom,
            ExternalTermFormat.Tag.atomCacheRef:
            offset = start
            let atom = try readAtom()
            return .atom(atom)
        case ExternalTermFormat.Tag.nil:
            return .list([])
        case ExternalTermFormat.Tag.string:
            let count = Int(try read16())
            guard remaining >= count else { throw TermDecodingError(.truncated, at: offset) }
            var elements = [Term]()
            elements.reserveCapacity(count)
            for index in offset..<offset + count { elements.append(.integer(Int(raw[index]))) }
            offset += count
            return .list(elements)
        case ExternalTermFormat.Tag.binary:
            let count = Int(try read32())
            return .binary(try readBytes(count))
        case ExternalTermFormat.Tag.bitBinary:
            let count = Int(try read32())
            let bits = try readByte()
            // As binary_to_term: an empty bitstring has 0 bits in its (absent) last byte, a
            // non-empty one 1 to 8.
            guard bits <= 8, (bits == 0) == (count == 0) else {
                throw TermDecodingError(.invalidValue("bitstring with \(bits) bits in its last byte"), at: start)
            }
            return .makeBitstring(try readBytes(count), bitsInLastByte: bits)
        case ExternalTermFormat.Tag.newFloat:
            let value = Double(bitPattern: try read64())
            // Erlang has no NaN or infinity, and binary_to_term rejects them too.
            guard value.isFinite else { throw TermDecodingError(.invalidValue("float \(value)"), at: start) }
            return .float(value)
        case ExternalTermFormat.Tag.float:
            let text = try readBytes(31)
            guard let value = LegacyFloat.parse(text) else {
                let digits = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
                throw TermDecodingError(.invalidValue("float text \"\(digits)\""), at: start)
            }
            return .float(value)
        case ExternalTermFormat.Tag.smallBig:
            return try readBig(digits: Int(try readByte()))
        case ExternalTermFormat.Tag.largeBig:
            return try readBig(digits: Int(try read32()))
        case ExternalTermFormat.Tag.newPid, ExternalTermFormat.Tag.pid:
            offset = start
            return .pid(try readPid())
        case ExternalTermFormat.Tag.newPort:
            let node = try readAtom()
            let id = try read32()
            return .port(Port(node: node, id: UInt64(id), creation: try read32()))
        case ExternalTermFormat.Tag.v4Port:
            let node = try readAtom()
            let id = try read64()
            return .port(Port(node: node, id: id, creation: try read32()))
        case ExternalTermFormat.Tag.port:
            let node = try readAtom()
            let id = try read32()
            return .port(Port(node: node, id: UInt64(id), creation: try readLegacyCreation()))
        case ExternalTermFormat.Tag.newerReference, ExternalTermFormat.Tag.newReference:
            // binary_to_term accepts 0 to 5 words (OTP 25 refuses 0 in the legacy
            // NEW_REFERENCE_EXT, OTP 28 does not) and writes a zero-word reference back as it
            // came, so it round-trips.
            let count = Int(try read16())
            guard count <= 5 else {
                throw TermDecodingError(.invalidValue("reference with \(count) words"), at: start)
            }
            let node = try readAtom()
            let creation = tag == ExternalTermFormat.Tag.newerReference ? try read32() : try readLegacyCreation()
            var ids = [UInt32]()
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try read32()) }
            return .reference(Reference(node: node, creation: creation, ids: ids))
        case ExternalTermFormat.Tag.reference:
            let node = try readAtom()
            let id = try read32()
            return .reference(Reference(node: node, creation: try readLegacyCreation(), ids: [id]))
        case ExternalTermFormat.Tag.export:
            let module = try readAtom()
            let function = try readAtom()
            // An integer tag only, read here: `readTerm` would let a chain of exports nested
            // in each other's arity recurse past any depth limit.
            let arityTag = try readByte()
            let arity: Term
            switch arityTag {
            case ExternalTermFormat.Tag.smallInteger: arity = .integer(Int(try readByte()))
            case ExternalTermFormat.Tag.integer: arity = .integer(Int(Int32(bitPattern: try read32())))
            case ExternalTermFormat.Tag.smallBig: arity = try readBig(digits: Int(try readByte()))
            case ExternalTermFormat.Tag.largeBig: arity = try readBig(digits: Int(try read32()))
            default: throw TermDecodingError(.invalidValue("export arity"), at: start)
            }
            guard case .integer(let value) = arity, value >= 0, value <= 255 else {
                throw TermDecodingError(.invalidValue("export arity"), at: start)
            }
            return .export(module: module, function: function, arity: value)
        case ExternalTermFormat.Tag.compressed:
            throw TermDecodingError(.invalidValue("compressed term inside a term"), at: start)
        case ExternalTermFormat.Tag.fun:
            throw TermDecodingError(.unsupported("FUN_EXT (removed in OTP 23)"), at: start)
        case ExternalTermFormat.Tag.local:
            throw TermDecodingError(.unsupported("LOCAL_EXT is only readable by the node that wrote it"), at: start)
        default:
            throw TermDecodingError(.unknownTag(tag), at: start)
        }
    }

    mutating func readAtom() throws(TermDecodingError) -> Atom {
        let start = offset
        let tag = try readByte()
        let count: Int
        let latin1: Bool
        switch tag {
        case ExternalTermFormat.Tag.smallAtomUTF8: count = Int(try readByte()); latin1 = false
        case ExternalTermFormat.Tag.atomUTF8: count = Int(try read16()); latin1 = false
        case ExternalTermFormat.Tag.smallAtom: count = Int(try readByte()); latin1 = true
        case ExternalTermFormat.Tag.atom: count = Int(try read16()); latin1 = true
        case ExternalTermFormat.Tag.atomCacheRef:
            let index = Int(try readByte())
            guard index < decoder.atomCache.count else {
                throw TermDecodingError(.invalidValue("atom cache reference \(index) not in the header"), at: start)
            }
            return decoder.atomCache[index]
        default:
            throw TermDecodingError(.invalidValue("expected an atom, found tag \(tag)"), at: start)
        }
        guard remaining >= count else { throw TermDecodingError(.truncated, at: offset) }
        let slice = UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count])
        offset += count
        if latin1 {
            guard count <= Atom.maxLength else { throw TermDecodingError(.invalidAtom, at: start) }
            // An ASCII name's Latin-1 bytes are its UTF-8: the same atom as in UTF-8.
            if !slice.contains(where: { $0 >= 0x80 }) { return try utf8Atom(slice, at: start) }
            var scalars = String.UnicodeScalarView()
            for byte in slice { scalars.append(Unicode.Scalar(byte)) }
            return Atom(String(scalars))
        }
        return try utf8Atom(slice, at: start)
    }

    /// The atom named by the UTF-8 `bytes` of an atom tag at `start`: from this thread's table,
    /// or made and checked as binary_to_term does (valid UTF-8 of at most 255 characters, up to
    /// 1,020 bytes).
    @inline(__always)
    func utf8Atom(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(TermDecodingError) -> Atom {
        try atoms.atom(bytes) { (bytes) throws(TermDecodingError) -> Atom in
            guard let name = String(validating: bytes, as: UTF8.self),
                bytes.count <= Atom.maxLength || name.unicodeScalars.count <= Atom.maxLength
            else {
                throw TermDecodingError(.invalidAtom, at: start)
            }
            return Atom(name)
        }
    }

    /// The one-byte creation of the legacy PID_EXT, PORT_EXT and (NEW_)REFERENCE_EXT, of which
    /// only the low 2 bits ever existed: binary_to_term rejects 4 and above.
    mutating func readLegacyCreation() throws(TermDecodingError) -> UInt32 {
        let creation = try readByte()
        guard creation <= 3 else {
            throw TermDecodingError(.invalidValue("creation \(creation) in a legacy 2-bit creation field"), at: offset - 1)
        }
        return UInt32(creation)
    }

    mutating func readPid() throws(TermDecodingError) -> Pid {
        let tag = try readByte()
        let node = try readAtom()
        let id = try read32()
        let serial = try read32()
        let creation = tag == ExternalTermFormat.Tag.newPid ? try read32() : try readLegacyCreation()
        return Pid(node: node, id: id, serial: serial, creation: creation)
    }

    /// Enters a container of `count` elements of at least `minimumSize` bytes each: checks that
    /// they can be present and that nesting stays within `maxDepth`. The containers leave with
    /// `depth -= 1` on success only; after an error the reader is abandoned.
    ///
    /// The container readers recurse once per nesting level, so they are kept lean: no `defer`,
    /// and errors built out of line.
    @inline(__always)
    mutating func enter(_ count: Int, of minimumSize: Int) throws(TermDecodingError) {
        try require(count, of: minimumSize)
        depth += 1
        guard depth <= decoder.maxDepth else {
            throw TermDecodingError(.tooDeep(limit: decoder.maxDepth), at: offset)
        }
    }

    mutating func readTuple(arity: Int) throws(TermDecodingError) -> Term {
        try enter(arity, of: 1)
        var elements = [Term]()
        elements.reserveCapacity(reserve(arity))
        for _ in 0..<arity { elements.append(try readElement()) }
        depth -= 1
        return .tuple(elements)
    }

    mutating func readList() throws(TermDecodingError) -> Term {
        let count = Int(try read32())
        try enter(count, of: 1)
        var elements = [Term]()
        elements.reserveCapacity(reserve(count))
        for _ in 0..<count { elements.append(try readElement()) }
        // A proper list, by far the most common, needs no canonicalising.
        if offset < raw.count, raw[offset] == ExternalTermFormat.Tag.nil {
            offset += 1
            depth -= 1
            return .list(elements)
        }
        let tail = try readTerm()
        depth -= 1
        return .list(elements, tail: tail)
    }

    mutating func readMap() throws(TermDecodingError) -> Term {
        let start = offset - 1
        let count = Int(try read32())
        try enter(count, of: 2)
        var pairs = [Term: Term](minimumCapacity: reserve(count))
        for _ in 0..<count {
            let key = try readElement()
            guard pairs.updateValue(try readElement(), forKey: key) == nil else { throw Self.duplicateKey(key, at: start) }
        }
        depth -= 1
        return .map(pairs)
    }

    @inline(never)
    static func duplicateKey(_ key: Term, at start: Int) -> TermDecodingError {
        TermDecodingError(.invalidValue("map has the key \(key.abbreviatedDescription()) twice"), at: start)
    }

    mutating func readBig(digits count: Int) throws(TermDecodingError) -> Term {
        let sign = try readByte()
        guard sign <= 1 else { throw TermDecodingError(.invalidValue("big integer sign \(sign)"), at: offset - 1) }
        guard remaining >= count else { throw TermDecodingError(.truncated, at: offset) }
        let negative = sign == 1
        if count <= 8 {
            var magnitude: UInt64 = 0
            for index in (0..<count).reversed() { magnitude = magnitude << 8 | UInt64(raw[offset + index]) }
            offset += count
            if !negative, magnitude <= UInt64(Int.max) { return .integer(Int(magnitude)) }
            if negative, magnitude <= UInt64(Int.max) + 1 { return .integer(Int(truncatingIfNeeded: 0 &- magnitude)) }
            let big = BigInt(magnitude)
            return .bigInteger(negative ? -big : big)
        }
        var words = [UInt](repeating: 0, count: (count + 7) / 8)
        for index in 0..<count {
            words[index / 8] |= UInt(raw[offset + index]) << (8 * (index % 8))
        }
        offset += count
        let magnitude = BigUInt(words: words)
        return .integer(BigInt(sign: negative ? .minus : .plus, magnitude: magnitude))
    }

    @inline(never)
    mutating func readFun(start: Int) throws(TermDecodingError) -> Term {
        let size = Int(try read32())
        guard size >= 4, size - 4 <= remaining else { throw TermDecodingError(.truncated, at: offset) }
        try enter(0, of: 1)
        let arity = try readByte()
        let uniq = try readBytes(16)
        let index = try read32()
        let freeCount = Int(try read32())
        try require(freeCount, of: 1)
        let module = try readAtom()
        let oldIndex = try readTerm()
        let oldUniq = try readTerm()
        let pid = try readTerm()
        var free = [Term]()
        free.reserveCapacity(reserve(freeCount))
        for _ in 0..<freeCount { free.append(try readTerm()) }
        guard offset - start - 1 == size else {
            throw TermDecodingError(.invalidValue("fun size \(size) does not match its contents"), at: start)
        }
        depth -= 1
        return .fun(Fun(arity: arity, uniq: uniq, index: index, module: module,
                        oldIndex: oldIndex, oldUniq: oldUniq, pid: pid, freeVariables: free))
    }

    /// Deflate never inflates one byte into more than 1,032 (a 2-bit code for a 258-byte
    /// match), so a declared size beyond that ratio is a lie, rejected before any allocation.
    static let maxDeflateRatio = 1_032

    mutating func readCompressed() throws(TermDecodingError) -> Term {
        let start = offset - 1
        let inflated = try inflate()
        let depth = self.depth
        let result = inflated.withUnsafeBytes { (innerRaw) -> Result<Term, TermDecodingError> in
            do throws(TermDecodingError) {
                // `readTerm`, not `readTopLevel`: like binary_to_term, a compressed term may not
                // hold another one (which would also let each layer recurse without a depth bound).
                var inner = Reader(innerRaw, decoder: decoder)
                inner.depth = depth
                let term = try inner.readTerm()
                guard inner.offset == innerRaw.count else {
                    throw TermDecodingError(.trailingBytes(innerRaw.count - inner.offset), at: start)
                }
                return .success(term)
            } catch {
                // Offsets inside the inflated bytes mean nothing to the caller, who only has
                // the compressed input: report the problem at the compressed term.
                return .failure(TermDecodingError(error.kind, at: start))
            }
        }
        return try result.get()
    }

    /// The bytes of a compressed term (tag 80, already read), inflated and checked against
    /// their declared size; leaves `offset` after the zlib data.
    mutating func inflate() throws(TermDecodingError) -> [UInt8] {
        let start = offset - 1
        let size = Int(try read32())
        guard size <= decoder.maxUncompressedSize else {
            throw TermDecodingError(.tooLarge("compressed term claims \(size) bytes"), at: start)
        }
        guard size > 0 else {
            throw TermDecodingError(.invalidValue("compressed term of 0 bytes"), at: start)
        }
        let (bound, overflow) = remaining.multipliedReportingOverflow(by: Self.maxDeflateRatio)
        guard overflow || size <= bound else {
            throw TermDecodingError(.invalidValue("compressed term claims \(size) bytes, impossible from \(remaining) bytes of zlib data"), at: start)
        }
        // A sentinel byte after the data tells a complete zlib stream (which stops before it)
        // from a truncated one (which swallows it): zlib reports neither as an error.
        var input = ByteBuffer()
        input.reserveCapacity(remaining + 1)
        input.writeBytes(UnsafeRawBufferPointer(rebasing: raw[offset...]))
        input.writeInteger(UInt8(0))
        // The output's capacity (`size` rounded up to a power of two) is what stops a zlib bomb
        // whose header lies about its size: inflating past it is an error, not an allocation.
        var output = ByteBuffer()
        output.reserveCapacity(size)
        do {
            try input.decompress(to: &output, with: .zlib())
        } catch {
            throw TermDecodingError(.invalidValue("compressed data is corrupt or larger than its declared \(size) bytes"), at: start)
        }
        guard input.readableBytes >= 1 else {
            throw TermDecodingError(.truncated, at: raw.count)
        }
        guard output.readableBytes == size else {
            throw TermDecodingError(.invalidValue("compressed term inflates to \(output.readableBytes) bytes, not \(size)"), at: start)
        }
        offset = raw.count - (input.readableBytes - 1)
        return Array(output.readableBytesView)
    }
}
