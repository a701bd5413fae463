import BigInt

/// Writes a term's External Term Format bytes into an `EncodeBuffer`: one capacity check per
/// piece, then plain stores (no array appends with their uniqueness checks, no per-byte calls).
///
/// Containers are written by `write` and leaves by `writeLeaf`, out of line, so that the
/// recursion over a deeply nested term costs little stack per level.
struct TermWriter {
    let buffer: EncodeBuffer
    /// The buffer's memory, kept here: reading a class's stored property costs an exclusivity
    /// check each time, and every piece written needs both.
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0

    init(_ buffer: EncodeBuffer) {
        self.buffer = buffer
        base = buffer.base
        capacity = buffer.capacity
    }

    /// The bytes written so far.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Where the next `bytes` bytes go, after making room for them.
    @inline(__always) private mutating func room(_ bytes: Int) -> UnsafeMutableRawPointer {
        if count + bytes > capacity { grow(count + bytes) }
        defer { count += bytes }
        return base + count
    }

    @inline(never) private mutating func grow(_ needed: Int) {
        buffer.grow(to: needed, keeping: count)
        base = buffer.base
        capacity = buffer.capacity
    }

    mutating func write(_ term: Term) {
        switch term {
        case .tuple(let elements):
            writeTupleHeader(arity: elements.count)
            writeElements(elements)
        case .list(let elements):
            writeList(elements, tail: nil)
        case .improperList(let elements, let tail):
            writeList(elements, tail: tail)
        case .map(let pairs):
            byte(ExternalTermFormat.Tag.map)
            u32(UInt32(truncatingIfNeeded: pairs.count))
            for (key, value) in pairs {
                write(key)
                write(value)
            }
        case .fun(let fun):
            writeFun(fun)
        case .integer(let value):
            writeInteger(value)
        case .atom(let atom):
            writeAtom(atom)
        default:
            writeLeaf(term)
        }
    }

    /// Each element from the array's storage. Passing an element to `write` copies it (an
    /// outlined copy and destroy of the whole enum, about 100 instructions); matching the common
    /// leaves here reads their payload in place.
    @inline(__always)
    private mutating func writeElements(_ elements: [Term]) {
        elements.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                if case .integer(let value) = buffer[index] {
                    writeInteger(value)
                } else if case .atom(let atom) = buffer[index] {
                    writeAtom(atom)
                } else if case .binary(let data) = buffer[index] {
                    byte(ExternalTermFormat.Tag.binary)
                    u32(UInt32(truncatingIfNeeded: data.count))
                    bytes(data)
                } else if case .float(let value) = buffer[index] {
                    byte(ExternalTermFormat.Tag.newFloat)
                    u64(value.bitPattern)
                } else {
                    write(buffer[index])
                }
            }
        }
    }

    @inline(never)
    private mutating func writeLeaf(_ term: Term) {
        switch term {
        case .bigInteger(let value):
            writeBig(value)
        case .float(let value):
            byte(ExternalTermFormat.Tag.newFloat)
            u64(value.bitPattern)
        case .binary(let data):
            byte(ExternalTermFormat.Tag.binary)
            u32(UInt32(truncatingIfNeeded: data.count))
            bytes(data)
        case .bitstring(let data, let bits):
            byte(ExternalTermFormat.Tag.bitBinary)
            u32(UInt32(truncatingIfNeeded: data.count))
            byte(bits)
            bytes(data)
        case .pid(let pid):
            writePid(pid)
        case .port(let port):
            byte(ExternalTermFormat.Tag.v4Port)
            writeAtom(port.node)
            u64(port.id)
            u32(port.creation)
        case .reference(let ref):
            writeReference(ref)
        case .export(let module, let function, let arity):
            byte(ExternalTermFormat.Tag.export)
            writeAtom(module)
            writeAtom(function)
            writeInteger(arity)
        case .atom, .integer, .tuple, .list, .improperList, .map, .fun:
            preconditionFailure("write(_:) writes these")
        }
    }

    // MARK: - Pieces

    mutating func writeTupleHeader(arity: Int) {
        if arity < 256 {
            byte(ExternalTermFormat.Tag.smallTuple)
            byte(UInt8(arity))
        } else {
            byte(ExternalTermFormat.Tag.largeTuple)
            u32(UInt32(truncatingIfNeeded: arity))
        }
    }

    /// `SMALL_ATOM_UTF8_EXT`, or `ATOM_UTF8_EXT` for names over 255 bytes; a name over
    /// `Atom.maxLength` characters is cut (see `TermEncoder.writeAtom`).
    mutating func writeAtom(_ atom: Atom) {
        let written = atom.name.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard utf8.count <= Atom.maxLength else { return false }
            byte(ExternalTermFormat.Tag.smallAtomUTF8)
            byte(UInt8(utf8.count))
            bytes(UnsafeRawBufferPointer(utf8))
            return true
        }
        if written != true { writeLongAtom(atom) }
    }

    @inline(never)
    private mutating func writeLongAtom(_ atom: Atom) {
        // Cut to its first `Atom.maxLength` characters: no Erlang node can hold a longer atom,
        // and written whole it would be rejected.
        let scalars = atom.name.unicodeScalars
        let end = scalars.index(scalars.startIndex, offsetBy: min(Atom.maxLength, scalars.count))
        let utf8 = Array(Substring(scalars[..<end]).utf8)
        if utf8.count < 256 {
            byte(ExternalTermFormat.Tag.smallAtomUTF8)
            byte(UInt8(utf8.count))
        } else {
            byte(ExternalTermFormat.Tag.atomUTF8)
            u16(UInt16(utf8.count))
        }
        bytes(utf8)
    }

    mutating func writePid(_ pid: Pid) {
        byte(ExternalTermFormat.Tag.newPid)
        writeAtom(pid.node)
        u32(pid.id)
        u32(pid.serial)
        u32(pid.creation)
    }

    mutating func writeReference(_ ref: Reference) {
        byte(ExternalTermFormat.Tag.newerReference)
        u16(UInt16(truncatingIfNeeded: ref.ids.count))
        writeAtom(ref.node)
        u32(ref.creation)
        for id in ref.ids { u32(id) }
    }

    mutating func writeInteger(_ value: Int) {
        if value >= 0 && value <= 255 {
            byte(ExternalTermFormat.Tag.smallInteger)
            byte(UInt8(value))
        } else if value >= Int(Int32.min) && value <= Int(Int32.max) {
            byte(ExternalTermFormat.Tag.integer)
            u32(UInt32(bitPattern: Int32(value)))
        } else {
            // SMALL_BIG_EXT: digit count, sign, little-endian magnitude.
            var magnitude = value.magnitude
            byte(ExternalTermFormat.Tag.smallBig)
            byte(UInt8((UInt.bitWidth - magnitude.leadingZeroBitCount + 7) / 8))
            byte(value < 0 ? 1 : 0)
            while magnitude > 0 {
                byte(UInt8(truncatingIfNeeded: magnitude))
                magnitude >>= 8
            }
        }
    }

    private mutating func writeBig(_ value: BigInt) {
        var digits: [UInt8] = []
        for word in value.magnitude.words {
            var word = word
            for _ in 0..<UInt.bitWidth / 8 {
                digits.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        while digits.last == 0 { digits.removeLast() }
        if digits.count < 256 {
            byte(ExternalTermFormat.Tag.smallBig)
            byte(UInt8(digits.count))
        } else {
            byte(ExternalTermFormat.Tag.largeBig)
            u32(UInt32(digits.count))
        }
        byte(value.sign == .minus ? 1 : 0)
        bytes(digits)
    }

    private mutating func writeList(_ elements: [Term], tail: Term?) {
        if elements.isEmpty, tail == nil {
            byte(ExternalTermFormat.Tag.nil)
            return
        }
        if tail == nil, Self.isByteString(elements) {
            byte(ExternalTermFormat.Tag.string)
            u16(UInt16(elements.count))
            elements.withUnsafeBufferPointer { buffer in
                for index in buffer.indices {
                    if case .integer(let value) = buffer[index] { byte(UInt8(truncatingIfNeeded: value)) }
                }
            }
            return
        }
        byte(ExternalTermFormat.Tag.list)
        u32(UInt32(truncatingIfNeeded: elements.count))
        writeElements(elements)
        if let tail {
            write(tail)
        } else {
            byte(ExternalTermFormat.Tag.nil)
        }
    }

    /// Whether a proper list is written as `STRING_EXT`, as `term_to_binary` does for lists of
    /// fewer than 65,536 integers 0...255.
    @inline(__always)
    private static func isByteString(_ elements: [Term]) -> Bool {
        guard elements.count < 65536 else { return false }
        return elements.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                guard case .integer(let value) = buffer[index], value >= 0, value <= 255 else { return false }
            }
            return true
        }
    }

    private mutating func writeFun(_ fun: Fun) {
        byte(ExternalTermFormat.Tag.newFun)
        let sizeField = count
        u32(0)
        byte(fun.arity)
        bytes(fun.uniq)
        u32(fun.index)
        u32(UInt32(truncatingIfNeeded: fun.freeVariables.count))
        writeAtom(fun.module)
        write(fun.oldIndex)
        write(fun.oldUniq)
        write(fun.pid)
        writeElements(fun.freeVariables)
        (base + sizeField).storeBytes(of: UInt32(truncatingIfNeeded: count - sizeField).bigEndian, as: UInt32.self)
    }

    // MARK: - Bytes

    @inline(__always) mutating func byte(_ value: UInt8) {
        room(1).storeBytes(of: value, as: UInt8.self)
    }

    @inline(__always) mutating func u16(_ value: UInt16) {
        room(2).storeBytes(of: value.bigEndian, as: UInt16.self)
    }

    @inline(__always) mutating func u32(_ value: UInt32) {
        room(4).storeBytes(of: value.bigEndian, as: UInt32.self)
    }

    @inline(__always) mutating func u64(_ value: UInt64) {
        room(8).storeBytes(of: value.bigEndian, as: UInt64.self)
    }

    @inline(__always) mutating func bytes(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, !data.isEmpty else { return }
        room(data.count).copyMemory(from: base, byteCount: data.count)
    }

    @inline(__always) mutating func bytes(_ data: [UInt8]) {
        data.withUnsafeBytes { bytes($0) }
    }
}
