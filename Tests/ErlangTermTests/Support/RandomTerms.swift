import BigInt
import ErlangTerm
import NumbatTestSupport

/// Seeded random terms that Erlang can represent (finite floats, atoms of at most 255
/// characters, canonical values), for round trips through the BEAM, description checks and
/// fuzz seeds. The same seed always gives the same terms.
struct RandomTerms {
    struct Kinds {
        /// Pids, ports and references, which have no literal syntax.
        var identifiers = true
        /// Local funs and `fun M:F/A`, which have no literal syntax either.
        var funs = true
        /// Bitstrings, which `TermParser` does not read.
        var bitstrings = true
        var maxDepth = 4
    }

    var random: SeededRandom
    var kinds: Kinds

    init(seed: UInt64, kinds: Kinds = Kinds()) {
        random = SeededRandom(seed: seed)
        self.kinds = kinds
    }

    mutating func terms(_ count: Int) -> [Term] { (0..<count).map { _ in term() } }

    mutating func term(depth: Int = 0) -> Term {
        if depth >= kinds.maxDepth || random.chance(2, in: 5) { return leaf() }
        switch random.int(0..<10) {
        case 0, 1: return .tuple(elements(depth: depth))
        case 2, 3: return .list(elements(depth: depth))
        case 4: return .list(elements(depth: depth) + [term(depth: depth + 1)], tail: nonListLeaf())
        case 5, 6:
            var pairs: [Term: Term] = [:]
            for _ in 0..<random.int(0...4) { pairs[term(depth: depth + 1)] = term(depth: depth + 1) }
            return .map(pairs)
        case 7:
            // More than 32 keys: the BEAM stores it as a hash map, with its own encoding order.
            var pairs: [Term: Term] = [:]
            for index in 0..<random.int(33...60) { pairs[.integer(index)] = leaf() }
            return .map(pairs)
        case 8:
            // LARGE_TUPLE_EXT.
            return .tuple((0..<random.int(256...300)).map { _ in smallLeaf() })
        default:
            return .tuple([.atom("wrapped"), term(depth: depth + 1)])
        }
    }

    private mutating func elements(depth: Int) -> [Term] {
        (0..<random.int(0...5)).map { _ in term(depth: depth + 1) }
    }

    /// A leaf of any kind allowed.
    mutating func leaf() -> Term {
        while true {
            switch random.int(0..<14) {
            case 0, 1: return integer()
            case 2: return bigInteger()
            case 3: return float()
            case 4, 5: return .atom(atom())
            case 6: return .binary(binaryBytes())
            case 7:
                guard kinds.bitstrings else { continue }
                return .makeBitstring(random.bytes(random.int(1...12)), bitsInLastByte: UInt8(random.int(1...7)))
            case 8: return byteString()
            case 9: return unicodeString()
            case 10:
                guard kinds.identifiers else { continue }
                return identifier()
            case 11:
                guard kinds.funs else { continue }
                return function()
            case 12: return random.element(of: [.list([]), .tuple([]), .map([:]), .binary([])])
            default: return .integer(random.element(of: Self.boundaryIntegers))
            }
        }
    }

    private mutating func nonListLeaf() -> Term {
        while true {
            let tail = leaf()
            if case .list = tail { continue }
            return tail
        }
    }

    private mutating func smallLeaf() -> Term {
        random.chance(1, in: 2) ? integer() : .atom(atom())
    }

    static let boundaryIntegers: [Int] = [
        0, 1, -1, 255, 256, -256, Int(Int32.max), Int(Int32.max) + 1, Int(Int32.min), Int(Int32.min) - 1,
        Int.max, Int.min, Int.max - 1, Int.min + 1, 1 << 32, -(1 << 32),
    ]

    private mutating func integer() -> Term {
        switch random.int(0..<3) {
        case 0: return .integer(random.int(0...255))
        case 1: return .integer(Int(Int32.random(in: .min ... .max, using: &random)))
        default: return .integer(Int(truncatingIfNeeded: random.next()) >> random.int(0...63))
        }
    }

    /// Up to 40 64-bit words: beyond 32 words it needs LARGE_BIG_EXT.
    private mutating func bigInteger() -> Term {
        let words = (0..<random.int(1...40)).map { _ in UInt(random.next()) }
        let magnitude = BigUInt(words: words) + BigUInt(UInt64.max)  // always at least 65 bits
        return .integer(BigInt(sign: random.chance(1, in: 2) ? .minus : .plus, magnitude: magnitude))
    }

    static let specialFloats: [Double] = [
        0.0, -0.0, 1.0, -1.5, 0.1, 1e16, 123_456_789.125, .leastNonzeroMagnitude, .leastNormalMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .ulpOfOne,
    ]

    mutating func float() -> Term {
        if random.chance(1, in: 3) { return .float(random.element(of: Self.specialFloats)) }
        while true {
            let value = Double(bitPattern: random.next())
            if value.isFinite { return .float(value) }
        }
    }

    static let fixedAtoms: [String] = [
        "ok", "error", "true", "false", "undefined", "", "hello world", "Capital", "with'quote", "back\\slash",
        "new\nline", "tab\t", "a@b", "node@host.example", "é", "e\u{301}", "日本語", "😀", "_under", "9lives",
        "end", "fun", "maybe", "else", "a.b", "x-y", "\u{0}", "\u{7F}", "\u{85}",
        String(repeating: "x", count: 255), String(repeating: "中", count: 255),
    ]

    private static let atomAlphabets: [ClosedRange<UInt32>] = [
        0x61...0x7A, 0x41...0x5A, 0x30...0x39, 0x20...0x7E, 0xA0...0xFF, 0x100...0x24F, 0x370...0x3FF,
        0x4E00...0x4FFF, 0x1F600...0x1F64F, 0x0...0x1F,
    ]

    mutating func atom() -> Atom {
        if random.chance(1, in: 3) { return Atom(random.element(of: Self.fixedAtoms)) }
        return Atom(text(length: random.int(0...20)))
    }

    /// Text whose characters come from one or two alphabets, so names look plausible but cover
    /// quoting, escapes, Latin-1 and multi-byte UTF-8.
    private mutating func text(length: Int) -> String {
        let alphabets = [random.element(of: Self.atomAlphabets), random.element(of: Self.atomAlphabets)]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let range = random.element(of: alphabets)
            scalars.append(Unicode.Scalar(UInt32.random(in: range, using: &random))!)
        }
        return String(scalars)
    }

    private mutating func binaryBytes() -> [UInt8] {
        switch random.int(0..<10) {
        case 0: return random.bytes(random.int(256...400))
        case 1, 2, 3: return Array(text(length: random.int(1...20)).utf8)
        default: return random.bytes(random.int(0...30))
        }
    }

    /// A list of small integers: `STRING_EXT` on the wire.
    private mutating func byteString() -> Term {
        .list((0..<random.int(1...30)).map { _ in .integer(random.int(0...255)) })
    }

    private mutating func unicodeString() -> Term {
        Term.string(text(length: random.int(1...20)))
    }

    static let remoteNodes: [Atom] = ["a@b", "numbat@host.example", "ünï@høst", "n1@127.0.0.1"]

    private mutating func identifier() -> Term {
        let node = random.element(of: Self.remoteNodes)
        let creation = UInt32(truncatingIfNeeded: random.next())
        switch random.int(0..<3) {
        case 0:
            return .pid(Pid(node: node, id: UInt32(truncatingIfNeeded: random.next()),
                            serial: UInt32(truncatingIfNeeded: random.next()), creation: creation))
        case 1:
            let id = random.chance(1, in: 2) ? random.next() : random.next() & 0xFFFF_FFFF
            return .port(Port(node: node, id: id, creation: creation))
        default:
            let ids = (0..<random.int(1...5)).map { _ in UInt32(truncatingIfNeeded: random.next()) }
            return .reference(Reference(node: node, creation: creation, ids: ids))
        }
    }

    /// OTP 28 no longer keeps the creator pid of a fun and writes a zero pid of the local node,
    /// so generated funs carry that pid to round-trip unchanged on every release.
    static let funPid = Term.pid(Pid(node: "nonode@nohost", id: 0, serial: 0, creation: 0))

    private mutating func function() -> Term {
        if random.chance(1, in: 2) {
            return .export(module: atom(), function: atom(), arity: random.int(0...255))
        }
        let index = random.int(0...1000)
        let free = kinds.maxDepth > 0 ? (0..<random.int(0...3)).map { _ in leaf() } : []
        return .fun(Fun(arity: UInt8(random.int(0...5)), uniq: random.bytes(16), index: UInt32(index),
                        module: Atom("numbat_random_\(random.int(0...9))"), oldIndex: .integer(index),
                        oldUniq: .integer(random.int(0...Int(Int32.max))), pid: Self.funPid,
                        freeVariables: free))
    }
}
