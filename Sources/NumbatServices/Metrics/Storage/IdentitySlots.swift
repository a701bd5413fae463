import NIOConcurrencyHelpers

/// One shared array `[0, 1, ..., n - 1]` per length. A node's history gives its metrics slots in
/// the order of its first collection, so for most nodes a layout's slots are exactly these:
/// shared, the ~1 KB array per node is one array for all of them.
enum IdentitySlots {
    private static let arrays = NIOLockedValueBox<[Int: [Int]]>([:])

    /// The shared array equal to `slots` when `slots` is `0 ..< slots.count` in order; else `slots`.
    static func shared(_ slots: [Int]) -> [Int] {
        guard isIdentity(slots) else { return slots }
        return arrays.withLockedValue { arrays in
            if let shared = arrays[slots.count] { return shared }
            // Lengths are metric counts, a few per kind of node; bounded all the same.
            if arrays.count < 256 { arrays[slots.count] = slots }
            return slots
        }
    }

    /// Whether `slots` is `0 ..< slots.count` in order: read in place (the generic
    /// `elementsEqual` over the indices took 2,800 instructions for a node's 125 slots).
    static func isIdentity(_ slots: [Int]) -> Bool {
        slots.withUnsafeBufferPointer { slots in
            for index in slots.indices where slots[index] != index { return false }
            return true
        }
    }
}
