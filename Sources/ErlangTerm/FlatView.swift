#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A flat term's nodes, bytes and boxed terms in place: what reading nodes needs, both while
/// `FlatTermDecoder` fills its scratch room and after, from a `FlatTerm`.
///
/// Equality and hashing here are `Term`'s (Erlang's exact equality) over nodes, whatever the
/// encoding: a Latin-1 string and a list of the same small integers are equal, an atom is its
/// name wherever the name came from. The decoder needs them to reject a map with a key twice,
/// as `binary_to_term` does.
struct FlatView {
    let nodes: UnsafePointer<FlatNode>
    let raw: UnsafeRawBufferPointer
    let boxed: [Term]
    let headerAtoms: [Atom]

    /// The atom of a `.boxedAtom` or `.cachedAtom` node; nil for other nodes.
    @inline(__always)
    func atom(of node: FlatNode) -> Atom? { node.atom(boxed: boxed, headerAtoms: headerAtoms) }

    /// Calls `body` with an atom node's UTF-8 name; nil for other nodes.
    func withAtomName<Result>(_ node: FlatNode, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        switch node.kind {
        case .atom:
            let start = Int(node.payload)
            return body(UnsafeRawBufferPointer(rebasing: raw[start..<start + Int(node.count)]))
        case .boxedAtom, .cachedAtom:
            guard let atom = atom(of: node) else { return nil }
            var name = atom.name
            return name.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        default:
            return nil
        }
    }

    /// The bytes of a `.binary`, `.string` or `.atom` node.
    @inline(__always)
    func bytes(_ node: FlatNode) -> UnsafeRawBufferPointer {
        let start = Int(node.payload)
        return UnsafeRawBufferPointer(rebasing: raw[start..<start + Int(node.count)])
    }

    /// Element `index` of a list, string, tuple or improper list (its tail at `count`).
    @inline(__always)
    func child(_ node: FlatNode, _ index: Int) -> FlatNode {
        if node.kind == .string { return FlatNode(.integer, payload: UInt64(raw[Int(node.payload) + index])) }
        return nodes[Int(node.payload) + index]
    }

    /// `node` and everything under it as a `Term`.
    func term(_ node: FlatNode) -> Term {
        switch node.kind {
        case .integer:
            return .integer(Int(truncatingIfNeeded: node.payload))
        case .float:
            return .float(Double(bitPattern: node.payload))
        case .atom:
            // Checked when decoded; the thread's table spares the allocation of a known name.
            let name = bytes(node)
            let atom = try? AtomTable.current.atom(name) { Atom(String(decoding: $0, as: UTF8.self)) }
            return .atom(atom ?? Atom(String(decoding: name, as: UTF8.self)))
        case .boxedAtom, .boxed:
            return boxed[Int(node.payload)]
        case .cachedAtom:
            return .atom(headerAtoms[Int(node.payload)])
        case .binary:
            return .binary([UInt8](bytes(node)))
        case .string:
            return .list(bytes(node).map { .integer(Int($0)) })
        case .tuple, .list:
            var elements = [Term]()
            elements.reserveCapacity(Int(node.count))
            let first = Int(node.payload)
            for index in first..<first + Int(node.count) { elements.append(term(nodes[index])) }
            return node.kind == .tuple ? .tuple(elements) : .list(elements)
        case .improperList:
            let first = Int(node.payload), count = Int(node.count)
            var elements = [Term]()
            elements.reserveCapacity(count)
            for index in first..<first + count { elements.append(term(nodes[index])) }
            return .improperList(elements, tail: term(nodes[first + count]))
        case .map:
            var pairs = [Term: Term](minimumCapacity: Int(node.count))
            var index = Int(node.payload)
            for _ in 0..<Int(node.count) {
                pairs[term(nodes[index])] = term(nodes[index + 1])
                index += 2
            }
            return .map(pairs)
        }
    }

    /// Erlang's exact equality of two nodes.
    func equal(_ a: FlatNode, _ b: FlatNode) -> Bool {
        switch (a.kind, b.kind) {
        case (.integer, .integer), (.float, .float):
            return a.payload == b.payload
        case (.atom, .atom), (.binary, .binary), (.string, .string):
            return a.count == b.count && (a.count == 0 || memcmp(bytes(a).baseAddress!, bytes(b).baseAddress!, Int(a.count)) == 0)
        case (.atom, .boxedAtom), (.boxedAtom, .atom), (.boxedAtom, .boxedAtom),
             (.cachedAtom, .atom), (.cachedAtom, .boxedAtom), (.cachedAtom, .cachedAtom), (.atom, .cachedAtom), (.boxedAtom, .cachedAtom):
            return withAtomName(a) { left in withAtomName(b) { right in left.elementsEqual(right) } ?? false } ?? false
        case (.list, .list), (.list, .string), (.string, .list), (.tuple, .tuple), (.improperList, .improperList):
            guard a.count == b.count else { return false }
            let children = a.kind == .improperList ? Int(a.count) + 1 : Int(a.count)
            for index in 0..<children where !equal(child(a, index), child(b, index)) { return false }
            return true
        case (.map, .map):
            // Maps as map keys are rare; their pairs may come in any order.
            return a.count == b.count && term(a) == term(b)
        case (.boxed, .boxed):
            return boxed[Int(a.payload)] == boxed[Int(b.payload)]
        default:
            return false
        }
    }

    /// A hash consistent with `equal`.
    func hash(_ node: FlatNode, into hasher: inout Hasher) {
        switch node.kind {
        case .integer, .float:
            hasher.combine(node.kind == .integer ? 1 : 3)
            hasher.combine(node.payload)
        case .atom, .boxedAtom, .cachedAtom:
            hasher.combine(0)
            _ = withAtomName(node) { hasher.combine(bytes: $0) }
        case .binary:
            hasher.combine(4)
            hasher.combine(bytes: bytes(node))
        case .list, .string, .tuple, .improperList:
            hasher.combine(node.kind == .tuple ? 6 : node.kind == .improperList ? 8 : 7)
            hasher.combine(node.count)
            let children = node.kind == .improperList ? Int(node.count) + 1 : Int(node.count)
            for index in 0..<children { hash(child(node, index), into: &hasher) }
        case .map:
            // Order-independent: the pair count only; `equal` tells maps apart.
            hasher.combine(9)
            hasher.combine(node.count)
        case .boxed:
            hasher.combine(10)
            hasher.combine(boxed[Int(node.payload)])
        }
    }
}
