import NIOConcurrencyHelpers

extension MetricValues.Layout {
    /// The layout already in use with exactly these names, or a new one (then registered).
    ///
    /// Nodes of one kind answer the same names in the same order, and each node's first
    /// collection (or one whose names changed) used to make a layout of its own: its names and
    /// their dictionary cost ~8 KB per managed node (heaptrack, 300 nodes), the same for
    /// every node. Called only when a node's names change, so the registry's lock and the
    /// hashing of the names are not on a collection's path.
    static func shared(names: [String], positions: [String: Int]?) -> MetricValues.Layout {
        var hasher = Hasher()
        hasher.combine(names)
        let key = hasher.finalize()
        return LayoutRegistry.shared.entries.withLockedValue { registry in
            if let found = registry.layouts[key]?.first(where: { $0.names == names }) {
                return found
            }
            let made = MetricValues.Layout(names: names, positions: positions)
            registry.insert(made, key: key)
            return made
        }
    }
}

/// Every layout in use. Held strongly, and let go by a sweep when only the registry holds a
/// layout: a weak reference would give each layout a side table, and every retain and release
/// of it (one per name of every collection) would take the slow path.
private final class LayoutRegistry: Sendable {
    static let shared = LayoutRegistry()

    struct Entries {
        var layouts: [Int: [MetricValues.Layout]] = [:]
        var count = 0
        /// The entries after the last sweep: the next sweep comes when they double.
        var sweptTo = 32

        mutating func insert(_ layout: MetricValues.Layout, key: Int) {
            layouts[key, default: []].append(layout)
            count += 1
            guard count > 2 * sweptTo else { return }
            sweep()
        }

        /// Lets go of the layouts nothing else refers to.
        mutating func sweep() {
            for key in Array(layouts.keys) {
                var kept = layouts.removeValue(forKey: key) ?? []
                var index = 0
                while index < kept.count {
                    if isKnownUniquelyReferenced(&kept[index]) { kept.remove(at: index) } else { index += 1 }
                }
                if !kept.isEmpty { layouts[key] = kept }
            }
            count = layouts.values.reduce(0) { $0 + $1.count }
            sweptTo = max(32, count)
        }
    }

    let entries = NIOLockedValueBox(Entries())
}

extension MetricValues.Layout {
    /// Lets go of the shared layouts nothing else refers to (the tests; the registry also does
    /// it by itself as it grows).
    static func sweepShared() {
        LayoutRegistry.shared.entries.withLockedValue { $0.sweep() }
    }
}
