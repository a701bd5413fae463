import ErlangTerm
import NIOConcurrencyHelpers

/// One `String` per atom name over every connection's atom cache (atoms, which compare by their
/// bytes: `String` equality would make canonically equivalent names one, which Erlang keeps
/// apart).
///
/// Nodes of one kind send the same atoms (an agent's ~130 metric names): interned, every
/// connection's cache refers to the same storage, which saves the copies (a name over 15 bytes
/// is an allocation of its own, per connection) and makes names from different nodes compare
/// by identity (`MetricValues.Builder` checks each reply's names against a layout that nodes
/// share; with a copy per connection, each comparison read both names' bytes). Consulted only
/// when a peer fills a cache slot, not per reference. Bounded: past `limit` distinct names
/// (a peer inventing atoms), names are kept as they come.
enum SharedAtomNames {
    static let limit = 65_536
    private static let atoms = NIOLockedValueBox<Set<Atom>>([])

    /// The atom already held with `atom`'s name, or `atom` (then held, while under the limit).
    static func interned(_ atom: Atom) -> Atom {
        atoms.withLockedValue { atoms in
            if let index = atoms.firstIndex(of: atom) { return atoms[index] }
            if atoms.count < limit { atoms.insert(atom) }
            return atom
        }
    }
}
