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
            if let found = registry.layouts[key]?.lazy.compactMap(\.layout).first(where: { $0.names == names }) {
                return found
            }
            let made = MetricValues.Layout(names: names, positions: positions)
            registry.insert(made, key: key)
            return made
        }
    }
}

/// Every layout in use, held weakly: a layout goes when no collection and no node's history
/// refers to it.
private final class LayoutRegistry: Sendable {
    static let shared = LayoutRegistry()

    struct Entry {
        weak var layout: MetricValues.Layout?
    }

    struct Entries {
        var layouts: [Int: [Entry]] = [:]
        var count = 0
        /// The entries after the last sweep of dead ones: the next sweep comes when they double.
        var sweptTo = 32

        mutating func insert(_ layout: MetricValues.Layout, key: Int) {
            layouts[key, default: []].removeAll { $0.layout == nil }
            layouts[key, default: []].append(Entry(layout: layout))
            count += 1
            guard count > 2 * sweptTo else { return }
            layouts = layouts.compactMapValues { entries in
                let live = entries.filter { $0.layout != nil }
                return live.isEmpty ? nil : live
            }
            count = layouts.values.reduce(0) { $0 + $1.count }
            sweptTo = max(32, count)
        }
    }

    let entries = NIOLockedValueBox(Entries())
}
