import ErlangTerm

extension Term {
    /// Whether `erlangDescription` writes this term as Erlang source that both Erlang and
    /// `TermParser` read back: no pids, ports, references or local funs, and shallow enough
    /// for `TermParser`'s nesting limit.
    func hasLiteralSyntax(depth: Int = 0) -> Bool {
        guard depth < 400 else { return false }
        switch self {
        case .atom, .integer, .bigInteger, .float, .binary, .bitstring, .export:
            return true
        case .pid, .port, .reference, .fun:
            return false
        case .tuple(let elements), .list(let elements):
            return elements.allSatisfy { $0.hasLiteralSyntax(depth: depth + 1) }
        case .improperList(let elements, let tail):
            return elements.allSatisfy { $0.hasLiteralSyntax(depth: depth + 1) } && tail.hasLiteralSyntax(depth: depth + 1)
        case .map(let pairs):
            return pairs.allSatisfy { $0.key.hasLiteralSyntax(depth: depth + 1) && $0.value.hasLiteralSyntax(depth: depth + 1) }
        }
    }
}
