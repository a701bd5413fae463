/// One collection's numbers by metric name: the names (a `Layout`, shared by every collection
/// that names the same metrics in the same order) and a number per name.
///
/// Why not a `[String: Double]`: the agent answers the same ~125 names in the same order every
/// time. Hashing each name into a fresh dictionary per collection, then again to find its
/// metric id in the history, cost a fifth of a collection's instructions
/// (scripts/callgrind-metrics.sh). A reply is now checked against the node's previous layout
/// (comparisons of strings that share their storage, `Builder`), and the metric history
/// resolves a layout to its series once (`NodeSeries`).
public struct MetricValues: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// Names in order, and each name's position. Immutable, so shared freely.
    public final class Layout: Sendable {
        public let names: [String]
        let positions: [String: Int]

        /// `names` must not repeat.
        public convenience init(names: [String]) {
            self.init(names: names, positions: nil)
        }

        init(names: [String], positions: [String: Int]?) {
            self.names = names
            self.positions = positions ?? Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
        }
    }

    public let layout: Layout
    /// `numbers[i]` is the value of `layout.names[i]`.
    public let numbers: [Double]

    /// `numbers[i]` is the value of `layout.names[i]`.
    public init(layout: Layout, numbers: [Double]) {
        precondition(layout.names.count == numbers.count)
        self.layout = layout
        self.numbers = numbers
    }

    public init(_ dictionary: [String: Double]) {
        layout = Layout(names: Array(dictionary.keys))
        numbers = layout.names.map { dictionary[$0]! }
    }

    public init(dictionaryLiteral elements: (String, Double)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public subscript(name: String) -> Double? {
        layout.positions[name].map { numbers[$0] }
    }

    public var count: Int { numbers.count }
    public var isEmpty: Bool { numbers.isEmpty }
    public var names: [String] { layout.names }

    /// As a dictionary, for the API bodies and exports that carry one.
    public var dictionary: [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(layout.names, numbers))
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: Double)> {
        zip(layout.names, numbers).lazy.map { (key: $0, value: $1) }.makeIterator()
    }

    public static func == (lhs: MetricValues, rhs: MetricValues) -> Bool {
        if lhs.layout === rhs.layout { return lhs.numbers == rhs.numbers }
        return lhs.count == rhs.count && lhs.dictionary == rhs.dictionary
    }

    /// Gathers a reply's names and numbers in order, reusing `previous` when the names are the
    /// same: no name is hashed then. A repeated name keeps its last number, as a dictionary did.
    struct Builder {
        private let previous: Layout?
        /// `previous`'s names, held here: read through the layout, each name's check retained
        /// and released the array.
        private let previousNames: [String]
        /// While the names match `previous`: how many have.
        private var matched = 0
        /// Once they differ: the names so far, and their positions.
        private var names: [String]?
        private var positions: [String: Int] = [:]
        private var numbers: [Double] = []

        init(previous: Layout?, capacity: Int) {
            self.previous = previous
            previousNames = previous?.names ?? []
            numbers.reserveCapacity(capacity)
        }

        /// Appends `value` under the name that keeps the names the same as `previous`'s, if
        /// `matches` says the reply's name is that one; false when it is not, or once the names
        /// have differed or all have come. The reply's name is checked in place, no `String` made.
        mutating func appendIfExpected(_ value: Double, matching matches: (String) -> Bool) -> Bool {
            guard names == nil, matched < previousNames.count else { return false }
            // The name lent from the array in place (through its subscript, a retain and a
            // release per name).
            let index = matched
            guard previousNames.withUnsafeBufferPointer({ matches($0[index]) }) else { return false }
            matched += 1
            numbers.append(value)
            return true
        }

        mutating func append(_ name: String, _ value: Double) {
            if names == nil {
                if matched < previousNames.count, previousNames[matched] == name {
                    matched += 1
                    numbers.append(value)
                    return
                }
                let prefix = Array(previousNames[..<matched])
                names = prefix
                positions = Dictionary(uniqueKeysWithValues: prefix.enumerated().map { ($0.element, $0.offset) })
            }
            if let position = positions[name] {
                numbers[position] = value
            } else {
                positions[name] = numbers.count
                names!.append(name)
                numbers.append(value)
            }
        }

        func finish() -> MetricValues {
            if names == nil, let previous, matched == previous.names.count {
                return MetricValues(layout: previous, numbers: numbers)
            }
            if let names { return MetricValues(layout: .shared(names: names, positions: positions), numbers: numbers) }
            return MetricValues(layout: .shared(names: Array(previousNames[..<matched]), positions: nil), numbers: numbers)
        }
    }
}
