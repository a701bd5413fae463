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
/// share; with a copy per connection, each comparison read both names' bytes). The lock is
/// taken only when a peer fills a cache slot; a reference reads its name by index, without
/// it, and a connection's cache holds 2-byte indices. Bounded: past `limit` distinct names
/// (a peer inventing atoms), names are kept by the connection that got them. The limit leaves
/// one 2-byte value unused (`UInt16.max`), which a receiver's table uses for such names.
enum SharedAtomNames {
    static let limit = 65_535
    /// Each name's index in `names`.
    private static let indices = NIOLockedValueBox<[Atom: UInt16]>([:])
    /// The names by index. Each is written once, under the lock, before its index is handed
    /// out, and never changed or freed: whoever holds an index (handed to it through the lock,
    /// or read from a table filled under a lock or on its own thread) reads the name without
    /// the lock. Room for `limit` names, of which the memory holds only the pages written.
    nonisolated(unsafe) private static let names = UnsafeMutablePointer<Atom>.allocate(capacity: limit)

    /// The index of the name of `atom`, given it the first time; nil past `limit` names.
    static func index(of atom: Atom) -> UInt16? {
        indices.withLockedValue { indices in
            if let index = indices[atom] { return index }
            guard indices.count < limit else { return nil }
            let index = UInt16(indices.count)
            (names + Int(index)).initialize(to: atom)
            indices[atom] = index
            return index
        }
    }

    /// The names, for reading at the indices `index(of:)` gave: taken once per header by a
    /// receiver (a static's every access checks that it is initialised).
    static var byIndex: UnsafePointer<Atom> { UnsafePointer(names) }
}
