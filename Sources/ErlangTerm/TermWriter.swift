import BigInt

/// Writes a term's External Term Format bytes into an `EncodeBuffer`: one capacity check per
/// piece, then plain stores (no array appends with their uniqueness checks, no per-byte calls).
///
/// The term is read in place, through a pointer to each element in its container's storage.
/// Handing an element to a function by value made Swift copy it out of the array first (an
/// outlined copy and destroy of the enum, with a retain and release of its payload): about
/// 40 % of an encode's instructions in callgrind before this was done.
///
/// Leaves that are rare in traffic (big integers, bitstrings, pids, ports, references, external
/// funs) are written by `writeLeaf`, out of line, so that the recursion over a deeply nested
/// term costs little stack per level.
struct TermWriter {
    let buffer: EncodeBuffer
    /// The buffer's memory, kept here: reading a class's stored property costs an exclusivity
    /// check each time, and every piece written needs both.
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0
    /// When set, atoms are written as references into it (a distribution message's header
    /// lists them); see `AtomCacheRefs`.
    var atomRefs: AtomCacheRefs?

    init(_ buffer: EncodeBuffer, atomRefs: AtomCacheRefs? = nil) {
        self.buffer = buffer
        base = buffer.base
        capacity = buffer.capacity
        self.atomRefs = atomRefs
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
        withUnsafePointer(to: term) { write(at: $0) }
    }

    /// The term at `pointer`, which stays valid (its container is borrowed) for the call.
    private mutating func write(at pointer: UnsafePointer<Term>) {
        switch pointer.pointee {
        case .integer(let value):
            writeInteger(value)
        case .atom:
            writeAtom(at: pointer)
        case .tuple:
            let elements = Self.elements(at: pointer)
            writeTupleHeader(arity: elements.count)
            writeElements(elements)
        case .list:
            writeList(Self.elements(at: pointer))
        case .binary:
            writeBinary(at: pointer)
        case .float(let value):
            byte(ExternalTermFormat.Tag.newFloat)
            u64(value.bitPattern)
        case .map(let pairs):
            byte(ExternalTermFormat.Tag.map)
            u32(UInt32(truncatingIfNeeded: pairs.count))
            for (key, value) in pairs {
                write(key)
                write(value)
            }
        case .improperList(let elements, let tail):
            byte(ExternalTermFormat.Tag.list)
            u32(UInt32(truncatingIfNeeded: elements.count))
            elements.withUnsafeBufferPointer { writeElements($0) }
            write(tail)
        case .fun(let fun):
            writeFun(fun)
        case .bigInteger, .bitstring, .pid, .port, .reference, .export:
            writeLeaf(pointer)
        }
    }

    /// The elements of the tuple or proper list at `pointer`, in its array's storage.
    ///
    /// The pointer is used after the `withUnsafeBufferPointer` call it comes from, which Swift
    /// does not promise in general. It holds here: the array belongs to the term being written,
    /// which the caller of `write(_:)` borrows for the whole encode and which nothing can change
    /// meanwhile (value semantics), so the storage stays where it is. Binding the array across
    /// the recursion instead costs a retain and a release per container (the compiler cannot
    /// tell that the writes in between leave it alone): 20 % of an encode's instructions.
    @inline(__always)
    private static func elements(at pointer: UnsafePointer<Term>) -> UnsafeBufferPointer<Term> {
        switch pointer.pointee {
        case .tuple(let elements), .list(let elements):
            return elements.withUnsafeBufferPointer { $0 }
        default:
            preconditionFailure("a tuple or a proper list")
        }
    }

    /// Each element in place; integers here, without the call (a list of integers spent
    /// 47 instructions on each in `write(at:)`'s entry and exit).
    @inline(__always)
    private mutating func writeElements(_ elements: UnsafeBufferPointer<Term>) {
        guard let first = elements.baseAddress else { return }
        for index in 0..<elements.count {
            if case .integer(let value) = (first + index).pointee {
                writeInteger(value)
            } else {
                write(at: first + index)
            }
        }
    }

    /// `BINARY_EXT`. The bytes are read only after `room` has made space, with nothing opaque
    /// in between, so that the compiler reads the array in place instead of retaining it.
    @inline(__always)
    private mutating func writeBinary(at pointer: UnsafePointer<Term>) {
        guard case .binary(let sizing) = pointer.pointee else { return }
        let size = sizing.count
        let out = room(5 + size)
        out.storeBytes(of: ExternalTermFormat.Tag.binary, as: UInt8.self)
        out.storeBytes(of: UInt32(truncatingIfNeeded: size).bigEndian, toByteOffset: 1, as: UInt32.self)
        guard size > 0, case .binary(let data) = pointer.pointee else { return }
        data.withUnsafeBytes { (out + 5).copyMemory(from: $0.baseAddress!, byteCount: size) }
    }

    /// An atom in place (see `writeBinary(at:)`), through `writeAtom(_:)` when its name is not
    /// one contiguous run of at most 255 bytes.
    @inline(__always)
    private mutating func writeAtom(at pointer: UnsafePointer<Term>) {
        guard case .atom(let sizing) = pointer.pointee else { return }
        if atomRefs != nil, writeAtomRef(sizing) { return }
        let size = sizing.name.utf8.count
        guard size <= Atom.maxLength else {
            if case .atom(let atom) = pointer.pointee { writeAtom(atom) }
            return
        }
        let out = room(2 + size)
        guard case .atom(let atom) = pointer.pointee,
              atom.name.utf8.withContiguousStorageIfAvailable({ (utf8) -> Void in
                  out.storeBytes(of: ExternalTermFormat.Tag.smallAtomUTF8, as: UInt8.self)
                  out.storeBytes(of: UInt8(truncatingIfNeeded: size), toByteOffset: 1, as: UInt8.self)
                  if size > 0 { (out + 2).copyMemory(from: utf8.baseAddress!, byteCount: size) }
              }) != nil
        else {
            count -= 2 + size
            if case .atom(let atom) = pointer.pointee { writeAtom(atom) }
            return
        }
    }

    @inline(never)
    private mutating func writeLeaf(_ pointer: UnsafePointer<Term>) {
        switch pointer.pointee {
        case .bigInteger(let value):
            writeBig(value)
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
        case .atom, .integer, .float, .binary, .tuple, .list, .improperList, .map, .fun:
            preconditionFailure("write(at:) writes these")
        }
    }

    // MARK: - Pieces

    @inline(__always)
    mutating func writeTupleHeader(arity: Int) {
        if arity < 256 {
            let out = room(2)
            out.storeBytes(of: ExternalTermFormat.Tag.smallTuple, as: UInt8.self)
            out.storeBytes(of: UInt8(truncatingIfNeeded: arity), toByteOffset: 1, as: UInt8.self)
        } else {
            byte(ExternalTermFormat.Tag.largeTuple)
            u32(UInt32(truncatingIfNeeded: arity))
        }
    }

    /// `SMALL_ATOM_UTF8_EXT`, or `ATOM_UTF8_EXT` for names over 255 bytes; a name over
    /// `Atom.maxLength` characters is cut (see `TermEncoder.writeAtom`).
    mutating func writeAtom(_ atom: Atom) {
        if atomRefs != nil, writeAtomRef(atom) { return }
        let written = atom.name.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard utf8.count <= Atom.maxLength else { return false }
            byte(ExternalTermFormat.Tag.smallAtomUTF8)
            byte(UInt8(utf8.count))
            bytes(UnsafeRawBufferPointer(utf8))
            return true
        }
        if written != true { writeLongAtom(atom) }
    }

    /// `ATOM_CACHE_REF` and the atom's index in `atomRefs`; false (nothing written) when it
    /// cannot be listed there.
    private mutating func writeAtomRef(_ atom: Atom) -> Bool {
        let index = atom.name.utf8.withContiguousStorageIfAvailable { atomRefs!.index(of: atom, utf8: $0) } ?? nil
        guard let index else { return false }
        let out = room(2)
        out.storeBytes(of: ExternalTermFormat.Tag.atomCacheRef, as: UInt8.self)
        out.storeBytes(of: index, toByteOffset: 1, as: UInt8.self)
        return true
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

    @inline(__always)
    mutating func writeInteger(_ value: Int) {
        if value >= 0 && value <= 255 {
            let out = room(2)
            out.storeBytes(of: ExternalTermFormat.Tag.smallInteger, as: UInt8.self)
            out.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: 1, as: UInt8.self)
        } else if value >= Int(Int32.min) && value <= Int(Int32.max) {
            let out = room(5)
            out.storeBytes(of: ExternalTermFormat.Tag.integer, as: UInt8.self)
            out.storeBytes(of: UInt32(bitPattern: Int32(truncatingIfNeeded: value)).bigEndian, toByteOffset: 1, as: UInt32.self)
        } else {
            writeSmallBig(value)
        }
    }

    /// `SMALL_BIG_EXT` for an `Int` outside the 32-bit range (a timestamp in microseconds, in
    /// every log event): digit count, sign, little-endian magnitude, stored as one word.
    @inline(never)
    private mutating func writeSmallBig(_ value: Int) {
        let magnitude = UInt64(value.magnitude)
        let digits = (UInt64.bitWidth - magnitude.leadingZeroBitCount + 7) / 8
        let out = room(3 + 8)
        out.storeBytes(of: ExternalTermFormat.Tag.smallBig, as: UInt8.self)
        out.storeBytes(of: UInt8(truncatingIfNeeded: digits), toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: value < 0 ? 1 : 0, toByteOffset: 2, as: UInt8.self)
        out.storeBytes(of: magnitude.littleEndian, toByteOffset: 3, as: UInt64.self)
        count -= 8 - digits
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

    /// A proper list: `NIL_EXT`, `STRING_EXT` (as `term_to_binary` writes lists of fewer than
    /// 65,536 integers 0...255), or `LIST_EXT`.
    private mutating func writeList(_ elements: UnsafeBufferPointer<Term>) {
        if elements.isEmpty {
            byte(ExternalTermFormat.Tag.nil)
            return
        }
        if elements.count < 65536, writeByteString(elements) { return }
        byte(ExternalTermFormat.Tag.list)
        u32(UInt32(truncatingIfNeeded: elements.count))
        writeElements(elements)
        byte(ExternalTermFormat.Tag.nil)
    }

    /// Writes `elements` as `STRING_EXT` in one pass, or writes nothing and returns false at
    /// the first element that is not an integer 0...255.
    @inline(__always)
    private mutating func writeByteString(_ elements: UnsafeBufferPointer<Term>) -> Bool {
        let start = count
        let out = room(3 + elements.count)
        let first = elements.baseAddress!
        for index in 0..<elements.count {
            guard case .integer(let value) = (first + index).pointee, value >= 0, value <= 255 else {
                count = start
                return false
            }
            out.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: 3 + index, as: UInt8.self)
        }
        out.storeBytes(of: ExternalTermFormat.Tag.string, as: UInt8.self)
        out.storeBytes(of: UInt16(elements.count).bigEndian, toByteOffset: 1, as: UInt16.self)
        return true
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
        fun.freeVariables.withUnsafeBufferPointer { writeElements($0) }
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
