#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The atoms a thread decoded last, keyed by their bytes: what the BEAM's atom table is to
/// `binary_to_term`, bounded and without a lock.
///
/// Decoding makes the same few atoms again and again (`ok`, record tags, the node name in every
/// pid and reference, the names of a metric reply). Making each from its bytes means validating
/// UTF-8 and, for a name over 15 bytes, a heap allocation; a hit here is a hash of the bytes, one
/// or two comparisons and a retain. The table is two-way set-associative (a miss replaces the
/// older of a pair of slots), holds at most
/// `slotCount` atoms, and belongs to one thread: a decode runs start to end on the thread that
/// called it, so no two threads ever touch one table.
final class AtomTable {
    static let slotCount = 512

    private struct Slot {
        /// 0: empty.
        var hash: UInt64
        var atom: Atom
    }

    private let slots: UnsafeMutablePointer<Slot>

    private init() {
        slots = .allocate(capacity: Self.slotCount)
        slots.initialize(repeating: Slot(hash: 0, atom: Atom("")), count: Self.slotCount)
    }

    deinit {
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
    }

    /// The atom whose UTF-8 bytes are `bytes`, made by `make` on a miss (and then remembered).
    /// Only names whose bytes are their UTF-8 go through here: UTF-8 atoms, and Latin-1 ones
    /// that are ASCII.
    @inline(__always)
    func atom(_ bytes: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) throws(TermDecodingError) -> Atom) throws(TermDecodingError) -> Atom {
        let hash = Self.hash(bytes)
        // The slot from the hash's high bits, mixed: FNV-1a's low bits differ little between
        // names that differ only near their ends (`memory_total`, `memory_atom`), and the low
        // bit is always set. Two slots per name: one eviction does not make two names miss by
        // turns.
        let slot = slots + Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> Self.slotShift) & ~1
        if slot.pointee.hash == hash, Self.equal(slot.pointee.atom, bytes) { return slot.pointee.atom }
        let second = slot + 1
        if second.pointee.hash == hash, Self.equal(second.pointee.atom, bytes) { return second.pointee.atom }
        let atom = try make(bytes)
        second.pointee = slot.pointee
        slot.pointee = Slot(hash: hash, atom: atom)
        return atom
    }

    /// Shifts a 64-bit hash down to a slot index (`slotCount` is a power of two).
    private static let slotShift = UInt64(64 - slotCount.trailingZeroBitCount)

    /// FNV-1a over the bytes, never 0 (the empty slot).
    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash | 1
    }

    @inline(__always)
    private static func equal(_ atom: Atom, _ bytes: UnsafeRawBufferPointer) -> Bool {
        atom.name.utf8.withContiguousStorageIfAvailable { utf8 in
            utf8.count == bytes.count && (bytes.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? false
    }

    /// This thread's table.
    static var current: AtomTable { perThread.value }

    private static let perThread = ThreadLocal { AtomTable() }
}
