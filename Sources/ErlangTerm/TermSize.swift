import BigInt

/// The size pass of encoding: how many bytes `TermWriter` will write for a term, so that the
/// output is allocated once, at its exact size. Mirrors `TermWriter` case by case; a test
/// checks the two agree on every shape the codec tests use.
enum TermSize {
    static func of(_ term: Term) -> Int {
        switch term {
        case .tuple(let elements):
            return (elements.count < 256 ? 2 : 5) + of(elements)
        case .list(let elements):
            return list(elements, tail: nil)
        case .improperList(let elements, let tail):
            return list(elements, tail: tail)
        case .map(let pairs):
            var size = 5
            for (key, value) in pairs { size += of(key) + of(value) }
            return size
        case .fun(let fun):
            return 1 + 4 + 1 + fun.uniq.count + 4 + 4 + atom(fun.module) + of(fun.oldIndex) + of(fun.oldUniq)
                + of(fun.pid) + of(fun.freeVariables)
        case .integer(let value):
            return integer(value)
        case .atom(let value):
            return atom(value)
        default:
            return leaf(term)
        }
    }

    @inline(__always)
    private static func of(_ elements: [Term]) -> Int {
        elements.withUnsafeBufferPointer { buffer in
            var size = 0
            for index in buffer.indices { size += of(buffer[index]) }
            return size
        }
    }

    @inline(never)
    private static func leaf(_ term: Term) -> Int {
        switch term {
        case .bigInteger(let value):
            let count = bigDigits(value).count
            return (count < 256 ? 3 : 6) + count
        case .float:
            return 9
        case .binary(let data):
            return 5 + data.count
        case .bitstring(let data, _):
            return 6 + data.count
        case .pid(let pid):
            return 1 + atom(pid.node) + 12
        case .port(let port):
            return 1 + atom(port.node) + 12
        case .reference(let ref):
            return 3 + atom(ref.node) + 4 + 4 * ref.ids.count
        case .export(let module, let function, let arity):
            return 1 + atom(module) + atom(function) + integer(arity)
        case .atom, .integer, .tuple, .list, .improperList, .map, .fun:
            preconditionFailure("of(_:) sizes these")
        }
    }

    static func atom(_ atom: Atom) -> Int {
        let utf8 = atom.name.utf8
        let count = utf8.count
        if count <= Atom.maxLength { return 2 + count }
        let written = writtenName(atom).utf8.count
        return (written < 256 ? 2 : 3) + written
    }

    /// The name as written: whole, or cut to its first `Atom.maxLength` characters when longer
    /// (no Erlang node can hold a longer atom; written whole it would be rejected).
    static func writtenName(_ atom: Atom) -> Substring {
        let scalars = atom.name.unicodeScalars
        guard scalars.count > Atom.maxLength else { return atom.name[...] }
        let end = scalars.index(scalars.startIndex, offsetBy: Atom.maxLength)
        return Substring(scalars[..<end])
    }

    @inline(__always)
    static func integer(_ value: Int) -> Int {
        if value >= 0 && value <= 255 { return 2 }
        if value >= Int(Int32.min) && value <= Int(Int32.max) { return 5 }
        return 3 + byteCount(value.magnitude)
    }

    /// Bytes of a non-zero magnitude, least significant first, without leading zeros.
    @inline(__always)
    static func byteCount(_ magnitude: UInt) -> Int {
        (UInt.bitWidth - magnitude.leadingZeroBitCount + 7) / 8
    }

    /// A big integer's magnitude as little-endian bytes without leading zeros.
    static func bigDigits(_ value: BigInt) -> [UInt8] {
        var digits: [UInt8] = []
        for word in value.magnitude.words {
            var word = word
            for _ in 0..<UInt.bitWidth / 8 {
                digits.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        while digits.last == 0 { digits.removeLast() }
        return digits
    }

    /// Whether a proper list is written as `STRING_EXT`, as `term_to_binary` does for lists of
    /// fewer than 65,536 integers 0...255.
    @inline(__always)
    static func isByteString(_ elements: [Term]) -> Bool {
        guard elements.count < 65536 else { return false }
        return elements.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                guard case .integer(let value) = buffer[index], value >= 0, value <= 255 else { return false }
            }
            return true
        }
    }

    private static func list(_ elements: [Term], tail: Term?) -> Int {
        if elements.isEmpty, tail == nil { return 1 }
        if tail == nil, isByteString(elements) { return 3 + elements.count }
        return 5 + of(elements) + (tail.map { of($0) } ?? 1)
    }
}
