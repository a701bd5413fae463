import Testing

@testable import NumbatServices

/// The metric-id table behind `NodeBlock` and `NodeSeries` answers as a dictionary would.
@Suite("metric positions")
struct MetricPositionsTests {
    @Test("dense, sparse, negative and huge ids, with and without room made first", arguments: [0, 5, 125])
    func likeADictionary(capacity: Int) {
        var random = SystemRandomNumberGenerator()
        let dense = Array(1...300)
        let sparse = (0..<300).map { _ in Int.random(in: -1_000_000_000_000...1_000_000_000_000, using: &random) }
        let patterned = (0..<300).map { $0 << 32 } + [Int.max, Int.min + 1, -1, 0]
        for ids in [dense, sparse, patterned] {
            var table = MetricPositions(capacity: capacity)
            var reference: [Int: Int] = [:]
            for id in ids.shuffled(using: &random) where reference[id] == nil {
                reference[id] = reference.count
                table.insert(id, at: reference[id]!)
            }
            #expect(table.count == reference.count)
            #expect(reference.allSatisfy { table.position(of: $0.key) == $0.value })
            // Ids never inserted are not found.
            #expect((0..<500).allSatisfy { _ in
                let other = Int.random(in: 2_000_000_000_000...3_000_000_000_000, using: &random)
                return table.position(of: other) == nil
            })
        }
        #expect(MetricPositions(capacity: capacity).position(of: 1) == nil)
    }
}
