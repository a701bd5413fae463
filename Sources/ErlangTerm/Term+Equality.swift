/// Equality and hashing that follow Erlang's exact equality (`=:=`) as of OTP 27: floats compare
/// by bit pattern, so `0.0` and `-0.0` are different terms (and different map keys), as the
/// BEAM keeps them. Swift's `Double ==` would merge them, and a map holding both keys, which
/// OTP 27+ sends, could not be decoded.
///
/// Containers compare and hash through small functions and leaves out of line, so that the
/// recursion over a deeply nested term costs little stack per level (see `TermDecoder.maxDepth`).
extension Term {
    public static func == (lhs: Term, rhs: Term) -> Bool {
        switch (lhs, rhs) {
        case (.tuple(let a), .tuple(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.improperList(let a, let aTail), .improperList(let b, let bTail)): return a == b && aTail == bTail
        case (.map(let a), .map(let b)): return a == b
        case (.fun(let a), .fun(let b)): return a == b
        default: return leafEquals(lhs, rhs)
        }
    }

    @inline(never)
    private static func leafEquals(_ lhs: Term, _ rhs: Term) -> Bool {
        switch (lhs, rhs) {
        case (.atom(let a), .atom(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.bigInteger(let a), .bigInteger(let b)): return a == b
        case (.float(let a), .float(let b)): return a.bitPattern == b.bitPattern
        case (.binary(let a), .binary(let b)): return a == b
        case (.bitstring(let a, let aBits), .bitstring(let b, let bBits)): return aBits == bBits && a == b
        case (.pid(let a), .pid(let b)): return a == b
        case (.port(let a), .port(let b)): return a == b
        case (.reference(let a), .reference(let b)): return a == b
        case (.export(let aModule, let aFunction, let aArity), .export(let bModule, let bFunction, let bArity)):
            return aModule == bModule && aFunction == bFunction && aArity == bArity
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .tuple(let elements): hasher.combine(6); hasher.combine(elements)
        case .list(let elements): hasher.combine(7); hasher.combine(elements)
        case .improperList(let elements, let tail): hasher.combine(8); hasher.combine(elements); hasher.combine(tail)
        case .map(let pairs): hasher.combine(9); hasher.combine(pairs)
        case .fun(let fun): hasher.combine(14); hasher.combine(fun)
        default: hashLeaf(into: &hasher)
        }
    }

    @inline(never)
    private func hashLeaf(into hasher: inout Hasher) {
        switch self {
        case .atom(let atom): hasher.combine(0); hasher.combine(atom)
        case .integer(let value): hasher.combine(1); hasher.combine(value)
        case .bigInteger(let value): hasher.combine(2); hasher.combine(value)
        case .float(let value): hasher.combine(3); hasher.combine(value.bitPattern)
        case .binary(let bytes): hasher.combine(4); Self.hashBytes(bytes, into: &hasher)
        case .bitstring(let bytes, let bits): hasher.combine(5); Self.hashBytes(bytes, into: &hasher); hasher.combine(bits)
        case .pid(let pid): hasher.combine(10); hasher.combine(pid)
        case .port(let port): hasher.combine(11); hasher.combine(port)
        case .reference(let ref): hasher.combine(12); hasher.combine(ref)
        case .export(let module, let function, let arity):
            hasher.combine(13); hasher.combine(module); hasher.combine(function); hasher.combine(arity)
        case .tuple, .list, .improperList, .map, .fun: break
        }
    }

    /// A binary's bytes in one go: `[UInt8]`'s own hashing feeds the hasher a byte at a time.
    private static func hashBytes(_ bytes: [UInt8], into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
