import BigInt
import CompressNIO
import NIOCore

/// Encodes terms to the External Term Format the way `term_to_binary/1` of OTP 26+ does
/// (UTF-8 atoms, `NEW_PID_EXT`, `V4_PORT_EXT`, `NEWER_REFERENCE_EXT`, `STRING_EXT` for byte
/// lists), byte for byte except for the order of map pairs, which is Swift's `Dictionary`'s.
public struct TermEncoder: Sendable {
    /// Bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends `term` without a version byte (the form used inside distribution frames).
    ///
    /// Containers are written here and leaves by `encodeLeaf`, out of line, so that the
    /// recursion over a deeply nested term costs little stack per level.
    public mutating func encode(_ term: Term) {
        switch term {
        case .tuple(let elements):
            writeTupleHeader(arity: elements.count)
            for element in elements { encode(element) }
        case .list(let elements):
            writeList(elements, tail: nil)
        case .improperList(let elements, let tail):
            writeList(elements, tail: tail)
        case .map(let pairs):
            bytes.append(ExternalTermFormat.Tag.map)
            write32(UInt32(pairs.count))
            for (key, value) in pairs {
                encode(key)
                encode(value)
            }
        case .fun(let fun):
            writeFun(fun)
        default:
            encodeLeaf(term)
        }
    }

    @inline(never)
    private mutating func encodeLeaf(_ term: Term) {
        switch term {
        case .atom(let atom):
            writeAtom(atom)
        case .integer(let value):
            writeInteger(value)
        case .bigInteger(let value):
            writeBig(value)
        case .float(let value):
            bytes.append(ExternalTermFormat.Tag.newFloat)
            write64(value.bitPattern)
        case .binary(let data):
            bytes.append(ExternalTermFormat.Tag.binary)
            write32(UInt32(data.count))
            bytes.append(contentsOf: data)
        case .bitstring(let data, let bits):
            bytes.append(ExternalTermFormat.Tag.bitBinary)
            write32(UInt32(data.count))
            bytes.append(bits)
            bytes.append(contentsOf: data)
        case .pid(let pid):
            writePid(pid)
        case .port(let port):
            writePort(port)
        case .reference(let ref):
            writeReference(ref)
        case .export(let module, let function, let arity):
            bytes.append(ExternalTermFormat.Tag.export)
            writeAtom(module)
            writeAtom(function)
            writeInteger(arity)
        case .tuple, .list, .improperList, .map, .fun:
            preconditionFailure("encode(_:) writes containers")
        }
    }

    /// Appends raw bytes, for framing code that shares this buffer.
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }
    public mutating func append(contentsOf data: [UInt8]) { bytes.append(contentsOf: data) }

    // MARK: - Pieces

    /// The tuple header alone, for callers that stream a tuple's elements.
    public mutating func writeTupleHeader(arity: Int) {
        if arity < 256 {
            bytes.append(ExternalTermFormat.Tag.smallTuple)
            bytes.append(UInt8(arity))
        } else {
            bytes.append(ExternalTermFormat.Tag.largeTuple)
            write32(UInt32(arity))
        }
    }

    /// Writes `SMALL_ATOM_UTF8_EXT`, or `ATOM_UTF8_EXT` for names over 255 bytes.
    ///
    /// A name over `Atom.maxLength` characters, which no Erlang node can hold, is cut to its first
    /// 255 characters, so the output stays a term binary_to_term reads: written whole, it would
    /// be rejected, and past 65,535 bytes its length field would wrap and garble what follows.
    public mutating func writeAtom(_ atom: Atom) {
        let utf8 = atom.name.utf8
        guard utf8.count <= Atom.maxLength || atom.name.unicodeScalars.count <= Atom.maxLength else {
            let scalars = atom.name.unicodeScalars
            let end = scalars.index(scalars.startIndex, offsetBy: Atom.maxLength)
            writeAtom(Atom(String(scalars[..<end])))
            return
        }
        if utf8.count < 256 {
            bytes.append(ExternalTermFormat.Tag.smallAtomUTF8)
            bytes.append(UInt8(utf8.count))
        } else {
            bytes.append(ExternalTermFormat.Tag.atomUTF8)
            write16(UInt16(utf8.count))
        }
        bytes.append(contentsOf: utf8)
    }

    public mutating func writePid(_ pid: Pid) {
        bytes.append(ExternalTermFormat.Tag.newPid)
        writeAtom(pid.node)
        write32(pid.id)
        write32(pid.serial)
        write32(pid.creation)
    }

    public mutating func writeReference(_ ref: Reference) {
        bytes.append(ExternalTermFormat.Tag.newerReference)
        write16(UInt16(ref.ids.count))
        writeAtom(ref.node)
        write32(ref.creation)
        for id in ref.ids { write32(id) }
    }

    /// Always `V4_PORT_EXT`, as term_to_binary does from OTP 26 (OTP 25 still wrote
    /// `NEW_PORT_EXT` for ids below 2^28). Every peer Numbat talks to reads it: OTP 24 added it
    /// and Numbat's handshake requires `DFLAG_V4_NC`.
    private mutating func writePort(_ port: Port) {
        bytes.append(ExternalTermFormat.Tag.v4Port)
        writeAtom(port.node)
        write64(port.id)
        write32(port.creation)
    }

    private mutating func writeInteger(_ value: Int) {
        if value >= 0 && value <= 255 {
            bytes.append(ExternalTermFormat.Tag.smallInteger)
            bytes.append(UInt8(value))
        } else if value >= Int(Int32.min) && value <= Int(Int32.max) {
            bytes.append(ExternalTermFormat.Tag.integer)
            write32(UInt32(bitPattern: Int32(value)))
        } else {
            // SMALL_BIG_EXT: digit count, sign, little-endian magnitude.
            var magnitude = value.magnitude
            bytes.append(ExternalTermFormat.Tag.smallBig)
            let countIndex = bytes.count
            bytes.append(0)
            bytes.append(value < 0 ? 1 : 0)
            var count: UInt8 = 0
            while magnitude > 0 {
                bytes.append(UInt8(truncatingIfNeeded: magnitude))
                magnitude >>= 8
                count += 1
            }
            bytes[countIndex] = count
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
            bytes.append(ExternalTermFormat.Tag.smallBig)
            bytes.append(UInt8(digits.count))
        } else {
            bytes.append(ExternalTermFormat.Tag.largeBig)
            write32(UInt32(digits.count))
        }
        bytes.append(value.sign == .minus ? 1 : 0)
        bytes.append(contentsOf: digits)
    }

    private mutating func writeList(_ elements: [Term], tail: Term?) {
        if elements.isEmpty, tail == nil {
            bytes.append(ExternalTermFormat.Tag.nil)
            return
        }
        if tail == nil, elements.count < 65536, let string = Self.byteString(elements) {
            bytes.append(ExternalTermFormat.Tag.string)
            write16(UInt16(string.count))
            bytes.append(contentsOf: string)
            return
        }
        bytes.append(ExternalTermFormat.Tag.list)
        write32(UInt32(elements.count))
        for element in elements { encode(element) }
        if let tail {
            encode(tail)
        } else {
            bytes.append(ExternalTermFormat.Tag.nil)
        }
    }

    /// The bytes of a list whose elements are all integers 0...255, as `term_to_binary` writes it.
    private static func byteString(_ elements: [Term]) -> [UInt8]? {
        var result = [UInt8]()
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .integer(let value) = element, value >= 0, value <= 255 else { return nil }
            result.append(UInt8(value))
        }
        return result
    }

    private mutating func writeFun(_ fun: Fun) {
        bytes.append(ExternalTermFormat.Tag.newFun)
        let sizeIndex = bytes.count
        write32(0)
        bytes.append(fun.arity)
        bytes.append(contentsOf: fun.uniq)
        write32(fun.index)
        write32(UInt32(fun.freeVariables.count))
        writeAtom(fun.module)
        encode(fun.oldIndex)
        encode(fun.oldUniq)
        encode(fun.pid)
        for variable in fun.freeVariables { encode(variable) }
        let size = UInt32(bytes.count - sizeIndex)
        bytes[sizeIndex] = UInt8(truncatingIfNeeded: size >> 24)
        bytes[sizeIndex + 1] = UInt8(truncatingIfNeeded: size >> 16)
        bytes[sizeIndex + 2] = UInt8(truncatingIfNeeded: size >> 8)
        bytes[sizeIndex + 3] = UInt8(truncatingIfNeeded: size)
    }

    // MARK: - Big-endian integers

    @inline(__always) mutating func write16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always) public mutating func write32(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always) mutating func write64(_ value: UInt64) {
        write32(UInt32(truncatingIfNeeded: value >> 32))
        write32(UInt32(truncatingIfNeeded: value))
    }
}

extension Term {
    /// The term as `term_to_binary/1` gives it: the version byte, then the term.
    public func encoded() -> [UInt8] {
        var encoder = TermEncoder()
        encoder.append(ExternalTermFormat.version)
        encoder.encode(self)
        return encoder.bytes
    }

    /// The term as `term_to_binary(T, [compressed])` gives it (tag 80, zlib), unless compressing
    /// would not make it smaller, as the BEAM decides too.
    public func encodedCompressed() -> [UInt8] {
        var encoder = TermEncoder()
        encoder.encode(self)
        let plain = encoder.bytes
        guard let deflated = try? Self.deflate(plain), deflated.count + 5 < plain.count else {
            return [ExternalTermFormat.version] + plain
        }
        var result: [UInt8] = [ExternalTermFormat.version, ExternalTermFormat.Tag.compressed]
        let size = UInt32(plain.count)
        result += [UInt8(size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                   UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        return result + deflated
    }

    private static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        let compressed = try buffer.compress(with: .zlib())
        return Array(compressed.readableBytesView)
    }
}
