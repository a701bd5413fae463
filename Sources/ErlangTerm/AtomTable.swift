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
/// comparison (of up to four) and a retain. The table is four-way set-associative (a miss
/// replaces the oldest of its set), holds at most
/// `slotCount` atoms, and belongs to one thread: a decode runs start to end on the thread that
/// called it, so no two threads ever touch one table.
final class AtomTable {
    static let slotCount = 1024

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
        // The set from the hash's high bits, mixed once more (the low bit is always set).
        let set = slots + Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> Self.setShift) * Self.ways
        for way in 0..<Self.ways {
            let slot = set + way
            if slot.pointee.hash == hash, Self.equal(slot.pointee.atom, bytes) { return slot.pointee.atom }
        }
        let atom = try make(bytes)
        // The oldest of the set goes.
        for way in stride(from: Self.ways - 1, to: 0, by: -1) { set[way] = set[way - 1] }
        set.pointee = Slot(hash: hash, atom: atom)
        return atom
    }

    /// Slots per set. A metric reply has about 130 distinct atoms: hashed into 256 sets of two,
    /// eight of them find their set full and miss on every decode; into 256 sets of four, none
    /// (computed over the reply's atom names; callgrind showed the misses as UTF-8 validations).
    static let ways = 4

    /// Shifts a 64-bit hash down to a set index (`slotCount / ways` is a power of two).
    private static let setShift = UInt64(64 - (slotCount / ways).trailingZeroBitCount)


    /// A hash of the bytes eight at a time (FNV-1a, before, took a multiply per byte, and
    /// metric names are 10 to 30 bytes); never 0 (the empty slot). Not for adversaries: a
    /// collision costs a miss, never a wrong atom.
    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let multiplier: UInt64 = 0xBF58_476D_1CE4_E5B9
        var hash = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var index = 0
        while index + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* multiplier
            hash ^= hash >> 31
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            tail |= UInt64(bytes[index]) << shift
            shift += 8
            index += 1
        }
        hash = (hash ^ tail) &* multiplier
        hash ^= hash >> 29
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
