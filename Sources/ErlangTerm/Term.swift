import BigInt
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An Erlang term as a Swift value.
///
/// Each Erlang value has exactly one representation, so Swift equality matches Erlang's exact
/// equality (`=:=`): strings are lists of integers, integers that fit in 64 bits are always
/// `.integer`, a bitstring whose length is a whole number of bytes is a `.binary`, and an
/// improper list never ends in a list. The factories (`Term.integer(_: BigInt)`,
/// `Term.makeBitstring(_:bitsInLastByte:)`, `Term.list(_:tail:)`) keep values canonical.
///
/// The cases whose payloads are over 16 bytes, and rare in traffic (big integers, pids, ports,
/// references, external funs), are `indirect`: a `Term` is then 17 bytes (24 in an array)
/// instead of 41 (48), which halves the memory a decoded tuple or list walks, and what copying
/// a term moves. It cost a pid or reference one allocation when decoded (the rpc round trip's
/// instruction count did not move) and took a quarter off every shape's encode.
public enum Term: Sendable, Hashable {
    case atom(Atom)
    /// An integer that fits in 64 bits.
    case integer(Int)
    /// An integer outside the 64-bit range; never holds a value that fits in `Int`.
    indirect case bigInteger(BigInt)
    case float(Double)
    case binary([UInt8])
    /// A bitstring whose last byte holds only `bitsInLastByte` (1...7) significant high bits.
    case bitstring([UInt8], bitsInLastByte: UInt8)
    case tuple([Term])
    /// A proper list; `.list([])` is `[]`.
    case list([Term])
    /// A non-empty list whose tail is not a list.
    indirect case improperList([Term], tail: Term)
    /// A map; key equality is Erlang's exact equality.
    case map([Term: Term])
    indirect case pid(Pid)
    indirect case port(Port)
    indirect case reference(Reference)
    /// An external fun, `fun Module:Function/Arity`.
    indirect case export(module: Atom, function: Atom, arity: Int)
    /// A local fun (closure) as sent by the BEAM; opaque but round-trips.
    indirect case fun(Fun)
}

/// An atom. Atom names are at most 255 characters in OTP.
public struct Atom: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String

    /// The most characters (code points) an atom may have: binary_to_term and the Erlang
    /// parser reject longer names, and so do `TermDecoder` and `TermParser`. `TermEncoder`
    /// writes only the first 255 characters of a longer name.
    public static let maxLength = 255

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    /// Atoms are compared by code points, as the BEAM does. Swift's `String` equality would make
    /// canonically equivalent names (`'é'` and `'e\x{301}'`) one atom, which Erlang keeps apart.
    /// Compared with `memcmp` where the strings have contiguous bytes (native and small strings
    /// do): the generic `elementsEqual` over two UTF-8 views walked them an index at a time (6 %
    /// of an rpc round trip's CPU in `perf`), and even over two buffers it costs about 25
    /// instructions a byte (4,000 of the round trip's 61,000 in callgrind: atoms key the node's
    /// per-peer tables, and node names are 20 to 40 bytes long).
    ///
    /// Two atoms holding the same string (the same storage, or the same small string's bits)
    /// are equal at once: atoms are mostly compared with themselves (a node's name, a cached
    /// atom, a literal), and the check costs two word compares where the byte compare's
    /// setup costs a hundred instructions.
    public static func == (lhs: Atom, rhs: Atom) -> Bool { namesEqual(lhs.name, rhs.name) }

    /// `==` of two atoms' names (for a name compared in place, with no `Atom` made).
    @inline(__always)
    static func namesEqual(_ lhs: String, _ rhs: String) -> Bool {
        if MemoryLayout<String>.size == MemoryLayout<(UInt, UInt)>.size,  // 64-bit platforms
           unsafeBitCast(lhs, to: (UInt, UInt).self) == unsafeBitCast(rhs, to: (UInt, UInt).self) { return true }
        let left = lhs.utf8, right = rhs.utf8
        let count = left.count
        guard count == right.count else { return false }
        let equal = left.withContiguousStorageIfAvailable { leftBytes in
            right.withContiguousStorageIfAvailable { rightBytes in
                count == 0 || memcmp(leftBytes.baseAddress!, rightBytes.baseAddress!, count) == 0
            }
        }
        if let equal, let equal { return equal }
        return left.elementsEqual(right)
    }

    /// The UTF-8 bytes in one go (a byte at a time costs a hasher round per byte).
    public func hash(into hasher: inout Hasher) {
        let utf8 = name.utf8
        hasher.combine(utf8.count)
        if utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            for byte in utf8 { hasher.combine(byte) }
        }
    }

    /// Code-point order (UTF-8 byte order), consistent with `==` and with Erlang's atom order.
    public static func < (lhs: Atom, rhs: Atom) -> Bool { lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
    public var description: String { Term.atom(self).erlangDescription }

    public static let `true`: Atom = "true"
    public static let `false`: Atom = "false"
    public static let ok: Atom = "ok"
    public static let error: Atom = "error"
    public static let undefined: Atom = "undefined"
}

/// A process identifier: `node`, a 32-bit `id` and `serial` (OTP 23+ `NEW_PID_EXT`), and the
/// `creation` of the node incarnation that made it.
public struct Pid: Sendable, Hashable, CustomStringConvertible {
    public var node: Atom
    public var id: UInt32
    public var serial: UInt32
    public var creation: UInt32

    public init(node: Atom, id: UInt32, serial: UInt32, creation: UInt32) {
        self.node = node
        self.id = id
        self.serial = serial
        self.creation = creation
    }

    public var description: String { Term.pid(self).erlangDescription }
}

/// A port identifier; OTP 24+ port ids are 64-bit (`V4_PORT_EXT`).
public struct Port: Sendable, Hashable, CustomStringConvertible {
    public var node: Atom
    public var id: UInt64
    public var creation: UInt32

    public init(node: Atom, id: UInt64, creation: UInt32) {
        self.node = node
        self.id = id
        self.creation = creation
    }

    public var description: String { Term.port(self).erlangDescription }
}

/// A reference: `node`, `creation` and up to 5 32-bit words (`NEWER_REFERENCE_EXT`; `make_ref()`
/// gives 3, aliases 4; binary_to_term also reads, and writes back, a reference of none).
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    public var node: Atom
    public var creation: UInt32
    public var ids: [UInt32]

    public init(node: Atom, creation: UInt32, ids: [UInt32]) {
        self.node = node
        self.creation = creation
        self.ids = ids
    }

    public var description: String { Term.reference(self).erlangDescription }
}

/// A local fun as encoded in `NEW_FUN_EXT`: enough to re-encode it byte for byte.
public struct Fun: Sendable, Hashable {
    public var arity: UInt8
    /// The 16-byte MD5 of the module's significant parts.
    public var uniq: [UInt8]
    public var index: UInt32
    public var module: Atom
    public var oldIndex: Term
    public var oldUniq: Term
    public var pid: Term
    public var freeVariables: [Term]

    public init(
        arity: UInt8, uniq: [UInt8], index: UInt32, module: Atom,
        oldIndex: Term, oldUniq: Term, pid: Term, freeVariables: [Term]
    ) {
        self.arity = arity
        self.uniq = uniq
        self.index = index
        self.module = module
        self.oldIndex = oldIndex
        self.oldUniq = oldUniq
        self.pid = pid
        self.freeVariables = freeVariables
    }
}

extension Term {
    /// An integer of any size, kept canonical: values that fit in `Int` become `.integer`.
    public static func integer(_ value: BigInt) -> Term {
        if let small = Int(exactly: value) { return .integer(small) }
        return .bigInteger(value)
    }

    /// A bitstring of `bytes`, whose last byte holds `bitsInLastByte` (1...8) significant bits.
    /// Whole bytes give a `.binary`; unused low bits are cleared so equal bitstrings compare equal.
    public static func makeBitstring(_ bytes: [UInt8], bitsInLastByte: UInt8) -> Term {
        guard !bytes.isEmpty, bitsInLastByte > 0, bitsInLastByte < 8 else { return .binary(bytes) }
        var bytes = bytes
        bytes[bytes.count - 1] &= UInt8(0xFF) << (8 - bitsInLastByte)
        return .bitstring(bytes, bitsInLastByte: bitsInLastByte)
    }

    /// A list with `tail`, kept canonical: a list tail is appended, `[]` gives a proper list.
    public static func list(_ elements: [Term], tail: Term) -> Term {
        switch tail {
        case .list(let rest):
            return .list(elements + rest)
        case .improperList(let rest, let innerTail):
            return .improperList(elements + rest, tail: innerTail)
        default:
            return elements.isEmpty ? tail : .improperList(elements, tail: tail)
        }
    }

    /// The empty list, `[]`.
    public static let emptyList: Term = .list([])

    /// A string as Erlang sees it: a list of Unicode code points.
    public static func string(_ value: String) -> Term {
        .list(value.unicodeScalars.map { .integer(Int($0.value)) })
    }

    /// A tuple whose first element is the atom `tag`, the shape of most Erlang messages.
    public static func tagged(_ tag: Atom, _ elements: Term...) -> Term {
        .tuple([.atom(tag)] + elements)
    }
}

extension Term {
    /// An unsigned 64-bit integer, canonical (`.integer` when it fits in `Int`).
    public static func unsigned(_ value: UInt64) -> Term {
        value <= UInt64(Int.max) ? .integer(Int(value)) : .bigInteger(BigInt(value))
    }

    /// The value as an unsigned 64-bit integer, if it is one.
    public var uint64Value: UInt64? {
        switch self {
        case .integer(let value): return value >= 0 ? UInt64(value) : nil
        case .bigInteger(let value): return UInt64(exactly: value)
        default: return nil
        }
    }
}
