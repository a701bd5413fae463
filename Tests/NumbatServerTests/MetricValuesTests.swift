import ErlangTerm
import Foundation
import Testing

@testable import NumbatServices

/// A collection's values keep one layout of names while the agent names the same metrics, and
/// read as the dictionary they replaced.
@Suite("metric values and their layouts")
struct MetricValuesTests {
    /// The agent's `{ok, {[{Name, Value}], #{Key => Detail}}}` answer, read in place.
    static func reply(_ pairs: [(String, Term)], details: [Term: Term] = [:]) throws -> FlatTerm {
        let names = pairs.map { name, value -> Term in
            // Built-in names are atoms, library ones binaries.
            .tuple([MetricSnapshot.isLibraryMetric(name) ? .binary(Array(name.utf8)) : .atom(Atom(name)), value])
        }
        return try FlatTerm(decoding: Term.tuple([.atom("ok"), .tuple([.list(names), .map(details)])]).encoded())
    }

    @Test("the same names in the same order share the previous layout; any change makes a new one with the right values")
    func layouts() throws {
        let first = try MetricSnapshot.fromAgent(Self.reply([("memory_total", .integer(100)), ("process_count", .integer(42)), ("folsom.web.hits.one", .float(2.5))]).root, at: Date())
        #expect(first.values.names == ["memory_total", "process_count", "folsom.web.hits.one"])
        #expect(first.values["process_count"] == 42 && first.values["folsom.web.hits.one"] == 2.5 && first.values["absent"] == nil)

        let same = try MetricSnapshot.fromAgent(Self.reply([("memory_total", .integer(101)), ("process_count", .integer(43)), ("folsom.web.hits.one", .float(3))]).root,
                                                at: Date(), previous: first.values.layout)
        #expect(same.values.layout === first.values.layout)
        #expect(same.values.numbers == [101, 43, 3])

        let cases: [[(String, Term)]] = [
            [("process_count", .integer(1)), ("memory_total", .integer(2)), ("folsom.web.hits.one", .integer(3))],  // reordered
            [("memory_total", .integer(1)), ("process_count", .integer(2))],  // one fewer
            [("memory_total", .integer(1)), ("process_count", .integer(2)), ("folsom.web.hits.one", .integer(3)), ("atom_count", .integer(4))],  // one more
            [("memory_total", .integer(1)), ("port_count", .integer(2)), ("folsom.web.hits.one", .integer(3))],  // one renamed
            [("memory_total", .integer(1)), ("memory_total", .integer(5)), ("process_count", .integer(2))],  // a repeat: the last wins
            [("memory_total", .integer(1)), ("process_count", .atom("undefined")), ("folsom.web.hits.one", .integer(3))],  // not a number: left out
        ]
        for pairs in cases {
            let snapshot = try MetricSnapshot.fromAgent(Self.reply(pairs).root, at: Date(), previous: first.values.layout)
            var expected: [String: Double] = [:]
            for (name, value) in pairs { if let number = value.doubleValue { expected[name] = number } }
            #expect(snapshot.values.layout !== first.values.layout)
            #expect(snapshot.values.dictionary == expected)
            #expect(snapshot.values == MetricValues(expected))
            #expect(Set(snapshot.values.names).count == snapshot.values.count)
            #expect(Dictionary(uniqueKeysWithValues: snapshot.values.map { ($0.key, $0.value) }) == expected)
        }
    }

    @Test("nodes answering the same names share one layout; other names get their own; an unused layout goes")
    func sharedAcrossNodes() throws {
        // Names no other test uses, so no layout of theirs is found.
        let names = (0..<120).map { "shared_\($0)_\(UInt32.random(in: 0...UInt32.max))" }
        func collect(_ names: [String]) throws -> MetricSnapshot {
            try MetricSnapshot.fromAgent(Self.reply(names.enumerated().map { ($0.element, .integer($0.offset)) }).root, at: Date())
        }
        let nodeA = try collect(names), nodeB = try collect(names)
        #expect(nodeA.values.layout === nodeB.values.layout)
        #expect(nodeB.values.numbers == (0..<120).map(Double.init))
        let other = try collect(Array(names.reversed()))
        #expect(other.values.layout !== nodeA.values.layout && other.values.names == names.reversed())
        // Let go by a sweep once nothing else refers to it; the next node with those names
        // makes a new one.
        weak var gone: MetricValues.Layout?
        try {
            let lone = try collect(Array(names.prefix(7)))
            gone = lone.values.layout
            MetricValues.Layout.sweepShared()
            #expect(gone != nil)  // still referred to by `lone`
        }()
        MetricValues.Layout.sweepShared()
        #expect(gone == nil)
        #expect(try collect(Array(names.prefix(7))).values.names == Array(names.prefix(7)))
        #expect(nodeA.values.layout === (try collect(names)).values.layout)  // kept while in use
    }

    @Test("nodes whose histories share a slot mapping stay apart when one gains a metric")
    func sharedSlots() throws {
        let hour: Int64 = 1_796_083_200_000
        let ids = ["a": 101, "b": 102, "c": 103, "d": 104]
        var nodes = [NodeSeries](repeating: NodeSeries(schedule: .standard), count: 3)
        var references = [NodeSeries](repeating: NodeSeries(schedule: .standard), count: 3)
        var layouts = [MetricValues.Layout?](repeating: nil, count: 3)
        for minute in 0..<20 {
            for node in 0..<3 {
                // Node 1 gains "d" at minute 5, node 2 at minute 12 (in the middle of its names).
                let names = node == 1 && minute >= 5 ? ["a", "b", "c", "d"] : node == 2 && minute >= 12 ? ["a", "d", "b", "c"] : ["a", "b", "c"]
                var builder = MetricValues.Builder(previous: layouts[node], capacity: names.count)
                for name in names { builder.append(name, Double(minute * 10 + node) + Double(ids[name]!)) }
                let values = builder.finish()
                layouts[node] = values.layout
                let time = hour + Int64(minute) * 60_000
                #expect(nodes[node].ingest(time: time, values: values, partly: false) { ids[$0] }.isEmpty)
                references[node].ingest(time: time, values: names.map { (metric: ids[$0]!, value: Double(minute * 10 + node) + Double(ids[$0]!)) })
            }
        }
        for node in 0..<3 { #expect(Self.waiting(nodes[node]) == Self.waiting(references[node]), "node \(node)") }
        #expect(Self.waiting(nodes[0]) != Self.waiting(nodes[1]))
    }

    @Test("details are kept as terms and printed as Erlang text when asked for")
    func details() throws {
        let queue: Term = .tuple([.binary(Array("<0.42.0>".utf8)), .integer(12)])
        let snapshot = try MetricSnapshot.fromAgent(Self.reply([("message_queue_max", .integer(12))],
                                                               details: [.atom("message_queue_max"): queue, .atom("dist_queue"): .atom("undefined")]).root, at: Date())
        #expect(snapshot.details == ["message_queue_max": queue.erlangDescription])
    }

    /// The points a series has waiting for a flush, as the chunk rows a flush would write, per
    /// block in their order (a block may have several).
    static func waiting(_ series: NodeSeries) -> [NodeSeries.BlockKey: [[UInt8]]] {
        Dictionary(series.unstored().map { ($0.key, [$0.data]) }, uniquingKeysWith: +)
    }

    @Test("the metric history takes a collection by layout as it does by metric ids, also after the layout changes")
    func series() throws {
        let hour: Int64 = 1_796_083_200_000
        let ids = ["a": 1, "b": 2, "c": 3]
        var byLayout = NodeSeries(schedule: .standard)
        var byIDs = NodeSeries(schedule: .standard)
        var layout: MetricValues.Layout?
        for minute in 0..<30 {
            // The names change at minute 10 ("c" appears) and at 20 (reordered).
            let names = minute < 10 ? ["a", "b"] : minute < 20 ? ["a", "b", "c"] : ["c", "a", "b"]
            var builder = MetricValues.Builder(previous: layout, capacity: names.count)
            for name in names { builder.append(name, Double(minute * ids[name]!) + 0.5) }
            let values = builder.finish()
            #expect((values.layout === layout) == (minute % 10 != 0))
            layout = values.layout
            let time = hour + Int64(minute) * 60_000
            #expect(byLayout.ingest(time: time, values: values, partly: false) { ids[$0] }.isEmpty)
            byIDs.ingest(time: time, values: names.map { (metric: ids[$0]!, value: Double(minute * ids[$0]!) + 0.5) })
        }
        #expect(Self.waiting(byLayout) == Self.waiting(byIDs))
        // A name without a number: nothing is taken unless partly, then the others.
        let values: MetricValues = ["a": 1, "new": 2]
        #expect(byLayout.ingest(time: hour + 31 * 60_000, values: values, partly: false) { ids[$0] } == ["new"])
        #expect(Self.waiting(byLayout) == Self.waiting(byIDs))
        #expect(byLayout.ingest(time: hour + 31 * 60_000, values: values, partly: true) { ids[$0] } == ["new"])
        byIDs.ingest(time: hour + 31 * 60_000, values: [(metric: 1, value: 1)])
        #expect(Self.waiting(byLayout) == Self.waiting(byIDs))
    }
}
