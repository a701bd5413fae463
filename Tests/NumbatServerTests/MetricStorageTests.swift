import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatCore
import NumbatStore
import Testing

@testable import NumbatServices

/// The series codec: what goes in comes out bit for bit, and damage is an error.
@Suite("metric series codec")
struct SeriesCodecTests {
    static func roundTrip(_ points: [SeriesPoint], width: Int = 1, blockStart: Int64 = 0) throws -> [SeriesPoint] {
        var block = NodeBlock(start: blockStart, end: blockStart + 86_400_000, width: width)
        for point in points { block.append(metric: 7, time: point.time, values: point.values) }
        return try NodeBlock.decode(block.encoded(), start: blockStart)[7] ?? []
    }

    @Test("integers, floats, the switch between them and extreme values survive exactly")
    func exact() throws {
        var random = SystemRandomNumberGenerator()
        let edges: [Double] = [0, 1, -1, 9_007_199_254_740_992, -9_007_199_254_740_992, 1e300, -0.0, .nan, .infinity]
        var values = edges + [Double.leastNonzeroMagnitude, .greatestFiniteMagnitude, 123_456_789, 123_456_790, 0.1, 0.1, 0.2]
        values += (0..<500).map { _ in Double(Int.random(in: 0...(1 << 40), using: &random)) }
        values += (0..<500).map { _ in Double.random(in: -1e9...1e9, using: &random) }
        let points = values.enumerated().map { SeriesPoint(time: Int64($0.offset) * 60_000 + Int64.random(in: 0...999), values: [$0.element]) }
        let decoded = try Self.roundTrip(points)
        #expect(decoded.count == points.count)
        for (a, b) in zip(points, decoded) {
            #expect(a.time == b.time)
            #expect(a.values[0].bitPattern == b.values[0].bitPattern, "\(a.values[0]) came back as \(b.values[0])")
        }
    }

    @Test("-0.0 keeps its sign, first in a series or after integers (it switches the column to floats)")
    func negativeZero() throws {
        for values in [[-0.0, 1, 2], [3, -0.0, 0], [0, 0, -0.0]] {
            let points = values.enumerated().map { SeriesPoint(time: Int64($0.offset) * 1_000, values: [$0.element]) }
            let decoded = try Self.roundTrip(points)
            #expect(decoded.map { $0.values[0].bitPattern } == values.map(\.bitPattern))
        }
    }

    @Test("roll-up points (sum, minimum, maximum, count) survive exactly")
    func widthFour() throws {
        let points = (0..<200).map { (index: Int) -> SeriesPoint in
            let value = Double(index)
            return SeriesPoint(time: Int64(index) * 300_000, values: [value / 3, value, value * 2, 5])
        }
        #expect(try Self.roundTrip(points, width: 4) == points)
    }

    @Test("a regular integral gauge costs about a byte a point")
    func compact() throws {
        var block = NodeBlock(start: 0, end: 3_600_000, width: 1)
        for index in 0..<60 { block.append(metric: 1, time: Int64(index) * 60_000, values: [Double(50_000_000 + index * 1_000)]) }
        // 60 points: a constant step, so times and values both cost one bit after the second point.
        #expect(block.encoded().count < 40)
    }

    @Test("a block encodes to the same bytes however its series were added, with dense and with sparse metric ids")
    func deterministic() throws {
        for ids in [Array(1...130), [0, 7, 3, 1_000_000, 99_999, 12], [Int(Int32.max), 2, 5]] {
            var blocks: [NodeBlock] = []
            for capacity in [0, ids.count, 4 * ids.count] {
                var block = NodeBlock(start: 0, end: 3_600_000, width: 1, capacity: capacity)
                for metric in ids.shuffled() { block.append(metric: metric, time: 1_000, values: CollectionOfOne(Double(metric))) }
                blocks.append(block)
            }
            let bytes = blocks.map { $0.encoded() }
            #expect(Set(bytes).count == 1)
            let decoded = try NodeBlock.decode(bytes[0], start: 0)
            #expect(decoded.count == ids.count && ids.allSatisfy { decoded[$0] == [SeriesPoint(time: 1_000, values: [Double($0)])] })
            // Series in metric order: each id's varint right after the previous series' bits.
            let expectedPrefix = [NodeBlock.version] + Self.varint(UInt64(ids.count)) + Self.varint(UInt64(ids.min()!))
            #expect(Array(bytes[0].prefix(expectedPrefix.count)) == expectedPrefix)
        }
    }

    @Test("a raw chunk of one collection decodes, and merges, to the points of a block built point by point, bit for bit, with dense and with sparse metric ids")
    func oneCollection() throws {
        var generator = SystemRandomNumberGenerator()
        let start: Int64 = 1_796_083_200_000
        let samples: [Double] = [0, -0.0, 1, -1, 42, 0.5, -3.25, 1e300, -1e-300, 9_007_199_254_740_992, 9_007_199_254_740_993, .greatestFiniteMagnitude, 123_456_789_012]
        for round in 0..<200 {
            let count = Int.random(in: 0...150, using: &generator)
            let sparse = round % 2 == 1
            let chosen = Array((0..<(count * 3 + 1)).shuffled(using: &generator).prefix(count).map { sparse ? $0 * 1_000_003 : $0 })
            // Every other pair of rounds in id order, as an agent's collections nearly always are.
            let metrics = round % 4 >= 2 ? chosen.sorted() : chosen
            let values = metrics.map { _ in Bool.random(using: &generator) ? samples.randomElement(using: &generator)! : Double(Int.random(in: -1_000_000...1_000_000, using: &generator)) / 8 }
            let time = start + Int64.random(in: 0..<3_600_000, using: &generator)
            var block = NodeBlock(start: start, end: start + 3_600_000, width: 1)
            for (metric, value) in zip(metrics, values) { block.append(metric: metric, time: time, values: CollectionOfOne(value)) }
            let chunk = NodeBlock.encodedRaw(start: start, time: time, metrics: metrics, values: values)
            #expect(chunk.first == NodeBlock.collectionVersion)
            #expect(Self.bits(try NodeBlock.decode(chunk, start: start)) == Self.bits(try NodeBlock.decode(block.encoded(), start: start)), "round \(round)")
            let wanted = Set(metrics.prefix(3))
            #expect(Self.bits(try NodeBlock.decode(chunk, start: start, metrics: wanted)) == Self.bits(try NodeBlock.decode(block.encoded(), start: start, metrics: wanted)), "round \(round)")
            var merged = NodeBlock(start: start, end: start + 3_600_000, width: 1)
            #expect(try merged.append(stored: chunk, start: start))
            #expect(merged.encoded() == block.encoded() && merged.earliest == block.earliest, "round \(round)")
        }
    }

    /// Decoded points with each value's bits (so -0.0 and 0.0, and NaNs, are told apart).
    static func bits(_ decoded: [Int: [SeriesPoint]]) -> [Int: [[UInt64]]] {
        decoded.mapValues { points in points.map { [UInt64(bitPattern: $0.time)] + $0.values.map(\.bitPattern) } }
    }

    @Test("chunks of one collection merge into one block, equal to the block of their points; a merge of chunks and blocks of points, too")
    func mergeChunks() throws {
        let start: Int64 = 1_796_083_200_000
        var generator = SystemRandomNumberGenerator()
        var metrics = Array(1...120)
        var expected = NodeBlock(start: start, end: start + 3_600_000, width: 1)
        var merged = NodeBlock(start: start, end: start + 3_600_000, width: 1)
        var rows: [[UInt8]] = []
        for second in 0..<40 {
            let time = start + Int64(second) * 1_000 + Int64.random(in: 0..<50, using: &generator)
            // A metric that comes and one that goes, as a node's do (a new application's).
            if second == 10 { metrics.append(500) }
            if second == 20 { metrics.removeFirst() }
            let values = metrics.map { metric in metric % 7 == 0 ? Double(second) / 3 : Double(metric * 1_000 + second * second) }
            for (metric, value) in zip(metrics, values) { expected.append(metric: metric, time: time, values: CollectionOfOne(value)) }
            if second % 10 == 9 {
                // Every tenth a block of points (a flush that took two collections at once).
                var block = NodeBlock(start: start, end: start + 3_600_000, width: 1)
                for (metric, value) in zip(metrics, values) { block.append(metric: metric, time: time, values: CollectionOfOne(value)) }
                rows.append(block.encoded())
            } else {
                rows.append(NodeBlock.encodedRaw(start: start, time: time, metrics: metrics, values: values))
            }
        }
        var rowsLeft = rows.reduce(0) { $0 + $1.count }
        for row in rows {
            #expect(try merged.append(stored: row, start: start, rowsLeft: rowsLeft))
            rowsLeft -= row.count
        }
        #expect(merged.encoded() == expected.encoded())
        #expect(merged.pointCount == expected.pointCount && merged.earliest == expected.earliest)
        // A chunk repeated (a point not after its series' last): left to the sorted merge.
        #expect(try !merged.append(stored: rows[5], start: start))
        var wide = NodeBlock(start: start, end: start + 3_600_000, width: 4)
        #expect(throws: SeriesCodecError.self) { try wide.append(stored: rows[0], start: start) }
    }

    @Test("a damaged chunk of one collection throws where the damage is, never traps")
    func damagedChunk() throws {
        let chunk = NodeBlock.encodedRaw(start: 0, time: 5_000, metrics: [3, 9, 10, 400], values: [1, 0.5, -7, 1e300])
        #expect(try NodeBlock.decode(chunk, start: 0).count == 4)
        for cut in 1..<chunk.count {
            #expect(throws: SeriesCodecError.self) { try NodeBlock.decode(Array(chunk.prefix(cut)), start: 0) }
        }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode(chunk + [0], start: 0) }  // bytes after the last series
        // A repeated id (never given) keeps one value; a negative one is left out: still a chunk the readers take.
        let repeated = try NodeBlock.decode(NodeBlock.encodedRaw(start: 0, time: 5, metrics: [9, 3, 9, -4, 0], values: [1, 2, 3, 4, 5]), start: 0)
        #expect(repeated.keys.sorted() == [0, 3, 9] && repeated[3] == [SeriesPoint(time: 5, values: [2])] && repeated[0] == [SeriesPoint(time: 5, values: [5])])
        // Ids that do not increase (a step of 0), a bad value tag, a count past the bytes, an id past Int.max.
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([2, 2, 0, 5, 2, 0, 2], start: 0) }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([2, 1, 0, 5, 3], start: 0) }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([2, 100, 0, 5, 2], start: 0) }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([2, 2, 0, 0xFE] + Array(repeating: 0xFF, count: 7) + [0x7F, 2, 2, 2], start: 0) }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var garbled = chunk
            for _ in 0..<3 { garbled[Int.random(in: 0..<garbled.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            _ = try? NodeBlock.decode(garbled, start: 0)  // must return or throw, nothing else
            var block = NodeBlock(start: 0, end: 3_600_000, width: 1)
            _ = try? block.append(stored: garbled, start: 0)
        }
    }

    @Test("a collection of a shared slot mapping is written in id order by the mapping's kept order, as a block built point by point, until a slot is added")
    func sharedIDOrder() throws {
        // Ids out of name order, as a store numbers names; unique to this test, so no other
        // test's mapping is found.
        let names = (0..<40).map { "order_\($0)_\(UInt32.random(in: 0...UInt32.max))" }
        let ids = Dictionary(uniqueKeysWithValues: zip(names, (0..<40).map { 1_000 + ($0 * 17) % 40 }))
        let layout = MetricValues.Layout(names: names)
        let start: Int64 = 1_796_083_200_000
        func expected(_ time: Int64, _ pairs: [(String, Double)]) -> [UInt8] {
            var block = NodeBlock(start: start, end: start + RetentionSchedule.standard.blockSpan(tier: 0), width: 1)
            for (name, value) in pairs { block.append(metric: ids[name]!, time: time, values: CollectionOfOne(value)) }
            return block.encoded()
        }
        for node in 0..<2 {
            var series = NodeSeries(schedule: .standard)
            let numbers = names.indices.map { Double($0 * 3 + node) }
            #expect(series.ingest(time: start + 1_000, values: MetricValues(layout: layout, numbers: numbers), partly: false) { ids[$0] }.isEmpty)
            let raw = try #require(series.takePending().first { $0.key.tier == 0 })
            var rawBlock = NodeBlock(start: start, end: start + RetentionSchedule.standard.blockSpan(tier: 0), width: 1)
            #expect(try rawBlock.append(stored: raw.data, start: start))
            #expect(rawBlock.encoded() == expected(start + 1_000, Array(zip(names, numbers))), "node \(node)")
            series.written()
            // A name more: a slot is added, and the order is worked out from the ids again.
            let more = names + ["order_extra_\(UInt32.random(in: 0...UInt32.max))"]
            var moreIDs = ids
            moreIDs[more.last!] = 999
            let values = MetricValues(layout: MetricValues.Layout(names: more), numbers: more.indices.map(Double.init))
            #expect(series.ingest(time: start + 2_000, values: values, partly: false) { moreIDs[$0] }.isEmpty)
            let next = try #require(series.takePending().first { $0.key.tier == 0 })
            var block = NodeBlock(start: start, end: start + RetentionSchedule.standard.blockSpan(tier: 0), width: 1)
            for (index, name) in more.enumerated() { block.append(metric: moreIDs[name]!, time: start + 2_000, values: CollectionOfOne(Double(index))) }
            var nextBlock = NodeBlock(start: start, end: start + RetentionSchedule.standard.blockSpan(tier: 0), width: 1)
            #expect(try nextBlock.append(stored: next.data, start: start))
            #expect(nextBlock.encoded() == block.encoded(), "node \(node), a slot added")
        }
    }

    @Test("series are put in metric order, from ids already sorted, dense, sparse or negative")
    func metricOrder() {
        var generator = SystemRandomNumberGenerator()
        for ids in [[], [5], [1, 2, 3], [3, 2, 1], [0, 7, 3, 1_000_000, 99_999, 12], [-4, 10, -9], [1, 1_000_003, 2_000_006], [2, 1_000_003, 1]] {
            let order = NodeBlock.metricOrder(ids)
            #expect(order.map { ids[$0] } == ids.sorted() && Set(order).count == ids.count, "\(ids)")
        }
        for _ in 0..<50 {
            let ids = Array(Set((0..<Int.random(in: 0...200, using: &generator)).map { _ in Int.random(in: 0...600, using: &generator) }))
            for candidate in [ids, ids.sorted()] {
                #expect(NodeBlock.metricOrder(candidate).map { candidate[$0] } == candidate.sorted())
            }
        }
    }

    @Test("an empty block encodes to its header alone and reads back empty (found by MetricBlockFuzz)")
    func emptyBlock() throws {
        let bytes = NodeBlock(start: 0, end: 3_600_000, width: 1).encoded()
        #expect(bytes == [NodeBlock.version, 0])
        #expect(try NodeBlock.decode(bytes, start: 0).isEmpty)
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 10)
        let written = bytes.withUnsafeMutableBufferPointer { Varint.write(value, to: $0.baseAddress!) }
        return Array(bytes.prefix(written))
    }

    @Test("varints: the size counted is the size written, and they read back")
    func varints() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 35, UInt64(Int64.max), .max] {
            let bytes = Self.varint(value)
            #expect(bytes.count == Varint.size(value))
            try bytes.withUnsafeBytes { raw throws in
                var reader = ByteReader(raw)
                #expect(try reader.varint() == value)
                #expect(reader.isAtEnd)
            }
        }
    }

    @Test("repeated and late points are dropped, never stored twice")
    func monotonic() throws {
        var block = NodeBlock(start: 0, end: 1_000_000, width: 1)
        let first = block.append(metric: 1, time: 10, values: [1])
        let repeated = block.append(metric: 1, time: 10, values: [2])
        let late = block.append(metric: 1, time: 5, values: [3])
        #expect(first && !repeated && !late)
        #expect(try NodeBlock.decode(block.encoded(), start: 0)[1] == [SeriesPoint(time: 10, values: [1])])
    }

    @Test("the bit writers (growing and in place) pack any mix of widths (0 to 64 bits, across their 64-bit word) as a bit-by-bit writer does, and read back")
    func bitStream() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var writer = BitStreamWriter()
            var reference: [Bool] = []
            var written: [(value: UInt64, bits: Int)] = []
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                let bits = [0, 1, 1, 2, 5, 7, 14, 24, 31, 40, 57, 63, 64].randomElement(using: &random)!
                let value = UInt64.random(in: 0...UInt64.max, using: &random)
                writer.write(value, bits: bits)
                for bit in stride(from: bits - 1, through: 0, by: -1) { reference.append(value >> UInt64(bit) & 1 == 1) }
                written.append((bits == 64 ? value : value & ((1 << UInt64(bits)) - 1), bits))
            }
            var expected = [UInt8](repeating: 0, count: (reference.count + 7) / 8)
            for (index, bit) in reference.enumerated() where bit { expected[index / 8] |= 0x80 >> UInt8(index % 8) }
            #expect(writer.bitCount == reference.count)
            #expect(writer.bytes == expected)
            #expect(writer.byteCount == expected.count)
            var copied = [UInt8](repeating: 0xAB, count: expected.count + 2)
            #expect(copied.withUnsafeMutableBufferPointer { writer.copyBytes(to: $0.baseAddress! + 1) } == expected.count)
            #expect(copied == [0xAB] + expected + [0xAB])
            // The same writes straight into memory (a chunk's series, in place).
            var direct = [UInt8](repeating: 0xCD, count: expected.count + 8)
            let (directBits, directBytes) = direct.withUnsafeMutableBufferPointer { buffer in
                var pointer = PointerBitWriter(buffer.baseAddress!)
                for (value, bits) in written { pointer.write(value, bits: bits) }
                return (pointer.bitCount, pointer.finish())
            }
            #expect(directBits == reference.count)
            #expect(Array(direct.prefix(directBytes)) == expected)
            #expect(direct[directBytes...].allSatisfy { $0 == 0xCD }, "nothing written past the bytes counted")
            try expected.withUnsafeBytes { raw throws in
                var reader = BitStreamReader(raw, bitCount: reference.count)
                for (value, bits) in written { #expect(try reader.read(bits: bits) == value) }
                #expect(reader.bitsLeft == 0)
                #expect(throws: SeriesCodecError.self) { try reader.readBit() }
            }
            // As one series of a row, with the rest of the row (all ones) loadable after it:
            // the same values, and still nothing past the series' bits.
            let row = expected + [UInt8](repeating: 0xFF, count: 12)
            try row.withUnsafeBytes { raw throws in
                var reader = BitStreamReader(UnsafeRawBufferPointer(rebasing: raw[..<expected.count]), bitCount: reference.count, readable: row.count)
                for (value, bits) in written { #expect(try reader.read(bits: bits) == value) }
                #expect(reader.bitsLeft == 0)
                #expect(throws: SeriesCodecError.self) { try reader.read(bits: 1) }
            }
        }
        // The 64-bit window from any position of rows of every short length (a chunk's series
        // is a few bytes): the bits there, zeros past the end; skips bounded by the bit count.
        for length in 0...12 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            try bytes.withUnsafeBytes { raw throws in
                var reader = BitStreamReader(raw, bitCount: length * 8)
                for position in 0...(length * 8) {
                    var expected: UInt64 = 0
                    for offset in 0..<64 {
                        let index = position + offset
                        let bit = index < length * 8 ? UInt64(bytes[index / 8] >> UInt8(7 - index % 8) & 1) : 0
                        expected |= bit << UInt64(63 - offset)
                    }
                    #expect(reader.peek() == expected, "length \(length), position \(position)")
                    if position < length * 8 { try reader.skip(1) }
                }
                #expect(throws: SeriesCodecError.self) { try reader.skip(1) }
            }
        }
    }

    @Test("a batch of compactions reads from the lowest first row merged, and every row when a whole block is rewritten")
    func firstRowRead() {
        #expect(MetricArchive.firstRowRead(for: [.merge(first: 9, last: 16, level: 0), .merge(first: 1, last: 8, level: 0)]) == 1)
        #expect(MetricArchive.firstRowRead(for: [.merge(first: 9, last: 16, level: 0), .merge(first: 17, last: 24, level: 0)]) == 9)
        #expect(MetricArchive.firstRowRead(for: [.merge(first: 9, last: 16, level: 0), .whole]) == 0)
        #expect(MetricArchive.firstRowRead(for: [.whole]) == 0)
        #expect(MetricArchive.firstRowRead(for: []) == 0)
    }

    @Test("compaction reads rows in time order straight into one block, equal to the sorted merge; a row out of order is left to the merge")
    func appendStored() throws {
        func row(_ times: Range<Int>, metrics: ClosedRange<Int> = 1...3) -> [UInt8] {
            var block = NodeBlock(start: 0, end: 3_600_000, width: 1)
            for index in times {
                for metric in metrics { block.append(metric: metric, time: Int64(index) * 1_000, values: CollectionOfOne(Double(index * metric) + (metric == 2 ? 0.25 : 0))) }
            }
            return block.encoded()
        }
        let rows = [row(0..<40), row(40..<41), row(41..<60, metrics: 2...4)]
        var direct = NodeBlock(start: 0, end: 3_600_000, width: 1)
        for bytes in rows { #expect(try direct.append(stored: bytes, start: 0)) }
        var merged = NodeBlock(start: 0, end: 3_600_000, width: 1)
        let stored = rows.enumerated().map { StoredMetricBlock(nodeID: UUID(), tier: 0, start: 0, sequence: $0.offset, end: 3_600_000, points: 0, data: $0.element) }
        for (metric, points) in try MetricArchive.merged(stored) {
            for point in points { merged.append(metric: metric, time: point.time, values: point.values) }
        }
        #expect(direct.encoded() == merged.encoded())
        #expect(direct.earliest == 0 && direct.pointCount == 40 * 3 + 3 + 19 * 3)

        var outOfOrder = NodeBlock(start: 0, end: 3_600_000, width: 1)
        #expect(try outOfOrder.append(stored: row(10..<20), start: 0))
        #expect(try !outOfOrder.append(stored: row(5..<15), start: 0))
        var wide = NodeBlock(start: 0, end: 3_600_000, width: 4)
        #expect(throws: SeriesCodecError.self) { try wide.append(stored: row(0..<2), start: 0) }
    }

    @Test("truncated and garbled blocks throw instead of crashing")
    func damaged() throws {
        var block = NodeBlock(start: 0, end: 3_600_000, width: 1)
        for index in 0..<60 {
            for metric in 1...5 { block.append(metric: metric, time: Int64(index) * 60_000, values: [Double(index * metric) + 0.5]) }
        }
        let bytes = block.encoded()
        for cut in [0, 1, 2, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: SeriesCodecError.self) { try NodeBlock.decode(Array(bytes.prefix(cut)), start: 0) }
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var garbled = bytes
            for _ in 0..<3 { garbled[Int.random(in: 0..<garbled.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            _ = try? NodeBlock.decode(garbled, start: 0)  // must return or throw, nothing else
        }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([3, 0], start: 0) }  // an unknown version
        // Header numbers past Int.max (a metric id; a bit count whose byte count would
        // overflow): errors, not traps (found by MetricBlockFuzz).
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([1, 1] + Array(repeating: 0xFF, count: 9) + [0x01, 1, 1, 0], start: 0) }
        #expect(throws: SeriesCodecError.self) { try NodeBlock.decode([1, 1, 7, 1, 0, 0xFC] + Array(repeating: 0xFF, count: 7) + [0x7F], start: 0) }
    }
}

/// A clock for the archive that tests move by hand.
final class ManualClock: Sendable {
    private let current: NIOLockedValueBox<Date>
    init(_ start: Date) { current = NIOLockedValueBox(start) }
    var now: Date { current.withLockedValue { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
}

/// The archive with the real SQLite store and an injectable clock: roll-ups, retention and
/// restarts over days of points, without waiting for them.
@Suite("metric history: roll-ups and retention")
struct MetricArchiveTests {
    /// A Monday at midnight UTC, so buckets and blocks start on round times.
    static let epoch = Date(timeIntervalSince1970: 1_796_083_200)
    let node = UUID()

    static func withArchive(_ body: (MetricArchive, ManualClock, SQLiteStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        let clock = ManualClock(epoch)
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(3600)  // flushed by hand
        let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { clock.now })
        try await archive.start()
        try await body(archive, clock, store)
        await archive.stop()
        try store.close()
    }

    /// Collects `value(minute)` once a minute for `minutes`, moving the clock along.
    static func collect(_ archive: MetricArchive, _ clock: ManualClock, node: UUID, minutes: Range<Int>,
                        value: (Int) -> Double) async throws {
        for minute in minutes {
            let time = epoch.addingTimeInterval(Double(minute) * 60)
            clock.advance(time.timeIntervalSince(clock.now))
            try await archive.ingest(node: node, time: time, values: ["m": value(minute), "constant": 7])
        }
    }

    @Test("the flush loop writes points a flush interval after they come, then waits for the next ones without flushing; at its idle limit it writes a silent node's ended roll-up")
    func flushLoopPace() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory)
        defer { try? store.close() }
        let clock = ManualClock(Self.epoch)
        func archive(idle: Duration) -> MetricArchive {
            var settings = MetricArchive.Settings()
            settings.flushInterval = .milliseconds(100)
            settings.idleFlushInterval = idle
            return MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { clock.now })
        }
        func stored(_ node: UUID, tier: Int) async throws -> Bool {
            !(try await store.metricBlocks(nodes: [node], tier: tier, from: 0, to: .max)).isEmpty
        }

        // Nothing came: the loop waits for points, and makes no flush while it waits.
        let waiting = archive(idle: .seconds(3600))
        try await waiting.start()
        #expect(await eventually(within: .seconds(30)) { waiting.flushLoop.waitingForPoints }, "no points: the loop waits for them")
        let before = waiting.flushLoop.flushes
        try await waiting.ingest(node: node, time: Self.epoch, values: ["m": 1])
        #expect(try await eventually(within: .seconds(30)) { try await stored(node, tier: 0) }, "the point is written, woken by it")
        #expect(await eventually(within: .seconds(30)) { waiting.flushLoop.waitingForPoints }, "then waiting again")
        #expect(waiting.flushLoop.flushes == before + 2, "one flush wrote the point, the next found nothing more: \(waiting.flushLoop)")
        await waiting.stop()

        // A node stops reporting inside a five-minute bucket; the bucket ends: the flush at the
        // idle limit closes it and writes it, with no point to wake the loop.
        let silent = UUID()
        let limited = archive(idle: .milliseconds(300))
        try await limited.start()
        try await Self.collect(limited, clock, node: silent, minutes: 10..<14) { Double($0) }
        #expect(await eventually(within: .seconds(30)) { limited.flushLoop.waitingForPoints })
        #expect(try await !stored(silent, tier: 1), "the bucket is open")
        clock.advance(Self.epoch.addingTimeInterval(16 * 60).timeIntervalSince(clock.now))
        #expect(try await eventually(within: .seconds(30)) { try await stored(silent, tier: 1) }, "written at the idle limit")
        await limited.stop()
    }

    @Test("a roll-up bucket takes 32 bytes and keeps its start exactly, for one-second to daily lengths, into the next century")
    func bucketStart() {
        #expect(MemoryLayout<NodeSeries.Bucket>.stride == 32)
        let times: [Int64] = [0, 1_796_083_200_000, 4_102_444_800_000 + 123_456]  // 1970, 2026, 2100 and a bit
        for length: Int64 in [1000, 60_000, 300_000, 86_400_000] {
            for time in times {
                let start = time / length * length
                var bucket = NodeSeries.Bucket(start: start, length: length)
                #expect(bucket.start(length: length) == start)
                #expect(NodeSeries.Bucket.index(time, length: length) == bucket.index && NodeSeries.Bucket.index(start + length - 1, length: length) == bucket.index)
                bucket.add(stored: [10, 1, 5, 4])
                bucket.add(2)
                #expect(bucket.count == 5 && bucket.sum == 12 && bucket.minimum == 1 && bucket.maximum == 5)
            }
        }
    }

    @Test("the last hour is raw; older ranges are exact 5-minute and then 15-minute roll-ups")
    func tiers() async throws {
        try await Self.withArchive { archive, clock, _ in
            try await Self.collect(archive, clock, node: node, minutes: 0..<(3 * 24 * 60)) { Double($0) }
            clock.advance(60)
            try await archive.flush()
            let now = clock.now
            let raw = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-1800), to: now)
            #expect(raw.resolutionSeconds == 0)
            #expect(raw.series[0].points.map(\.value) == (4290..<4320).map(Double.init))

            let day = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-6 * 3600), to: now)
            #expect(day.resolutionSeconds == 300)
            let fiveMinute = day.series[0].points
            // Buckets of minutes 5k ..< 5k+5: average 5k+2, minimum 5k, maximum 5k+4; the last one
            // (minutes 4315...4319) has ended, so it is there too.
            #expect(fiveMinute.count == 72)
            for point in fiveMinute {
                let first = point.time.timeIntervalSince(Self.epoch) / 60
                #expect(point.value == first + 2 && point.minimum == first && point.maximum == first + 4)
            }
            let week = try await archive.series(nodes: [node], metrics: ["m", "constant"], from: now.addingTimeInterval(-3 * 86_400), to: now)
            #expect(week.resolutionSeconds == 900)
            #expect(week.series[0].points.count == 3 * 24 * 4)
            let firstQuarter = try #require(week.series[0].points.first)
            #expect(firstQuarter.value == 7 && firstQuarter.minimum == 0 && firstQuarter.maximum == 14)
            #expect(week.series[1].points.allSatisfy { $0.value == 7 && $0.minimum == 7 && $0.maximum == 7 })

            let stepped = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-3600), to: now, stepSeconds: 600)
            #expect(stepped.stepSeconds == 600)
            let firstStep = try #require(stepped.series[0].points.first)
            #expect(firstStep.value == 4264.5 && firstStep.minimum == 4260 && firstStep.maximum == 4269)
        }
    }

    @Test("retention boundaries are exact, and pruning deletes what has expired")
    func retention() async throws {
        try await Self.withArchive { archive, clock, store in
            try await Self.collect(archive, clock, node: node, minutes: 0..<(9 * 24 * 60)) { Double($0 % 100) }
            try await archive.flush()
            let now = clock.now
            // The raw tier keeps points from exactly one hour ago on: the point at now - 3600 s is in.
            let raw = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-3600), to: now)
            #expect(raw.resolutionSeconds == 0)
            #expect(raw.series[0].points.first?.time == now.addingTimeInterval(-3600))
            #expect(raw.series[0].points.count == 61)
            // Asking for 8 days gives the week's 15-minute points and nothing older than a week.
            let all = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-8 * 86_400), to: now)
            #expect(all.resolutionSeconds == 900)
            let oldest = try #require(all.series[0].points.first?.time)
            #expect(oldest >= now.addingTimeInterval(-7 * 86_400))
            #expect(oldest < now.addingTimeInterval(-7 * 86_400 + 900))

            let before = try await store.metricStorageStats()
            try await archive.prune()
            let after = try await store.metricStorageStats()
            #expect(after.blocks < before.blocks)
            let blocks0 = try await store.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max)
            #expect(blocks0.allSatisfy { $0.end > Int64((now.timeIntervalSince1970 - 3600) * 1000) })
            let blocks2 = try await store.metricBlocks(nodes: [node], tier: 2, from: 0, to: .max)
            #expect(blocks2.allSatisfy { $0.end > Int64((now.timeIntervalSince1970 - 7 * 86_400) * 1000) })
            // Pruning loses nothing still inside retention.
            let again = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-8 * 86_400), to: now)
            #expect(again.series == all.series)
        }
    }

    @Test("a hand-over writes the node's own pending points, not the others'; its next holder goes on from them")
    func handOver() async throws {
        try await Self.withArchive { archive, clock, store in
            let other = UUID()
            try await Self.collect(archive, clock, node: node, minutes: 0..<7) { Double($0) }
            try await Self.collect(archive, clock, node: other, minutes: 0..<7) { Double($0) }
            try await archive.handOver(node: node)
            #expect(try await !store.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max).isEmpty)
            #expect(try await store.metricBlocks(nodes: [other], tier: 0, from: 0, to: .max).isEmpty)
            #expect(try await store.chunkedMetricBlocks(nodes: [other]).isEmpty)
            // The next holder (another server on the same store) goes on; the 5-minute bucket
            // 5..<10 straddles the hand-over and is neither short nor doubled.
            let next = MetricArchive(store: store, settings: archive.settings, logger: Logger(label: "test"), now: { clock.now })
            try await next.start()
            for minute in 7..<20 {
                let time = Self.epoch.addingTimeInterval(Double(minute) * 60)
                clock.advance(time.timeIntervalSince(clock.now))
                try await next.ingest(node: node, time: time, values: ["m": Double(minute)])
            }
            await next.stop()
            clock.advance(24 * 3600 - 19 * 60)
            let day = try await next.series(nodes: [node], metrics: ["m"], from: Self.epoch, to: clock.now)
            #expect(day.series[0].points.map(\.value) == [2, 7, 12, 17])
        }
    }

    @Test("a restart in the middle of a roll-up bucket neither loses nor doubles its points")
    func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock(Self.epoch)
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(3600)
        for run in 0..<2 {
            let store = try SQLiteStore(directory: directory)
            let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { clock.now })
            try await archive.start()
            // Minutes 0..<7 before the restart, 7..<20 after: the 5-minute bucket 5..<10 and the
            // 15-minute bucket 0..<15 straddle it.
            try await Self.collect(archive, clock, node: node, minutes: run == 0 ? 0..<7 : 7..<20) { Double($0) }
            await archive.stop()
            if run == 1 {
                // Each 5-minute bucket ended so far (0, 5 and 10) stored once, as chunk rows of
                // the open block: the raw points replayed at the restart did not emit again the
                // bucket 0..<5 of the first run.
                let fiveMinute = try await store.metricBlocks(nodes: [node], tier: 1, from: 0, to: .max)
                #expect(fiveMinute.map(\.points).reduce(0, +) == 2 * 3, "\(fiveMinute.map { ($0.sequence, $0.points) })")  // "m" and "constant"
                let reopened = MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { clock.now })
                try await reopened.start(restoring: [node])
                clock.advance(24 * 3600 - 19 * 60)  // a day on: 5-minute and 15-minute points only
                let day = try await reopened.series(nodes: [node], metrics: ["m"], from: Self.epoch, to: clock.now)
                #expect(day.resolutionSeconds == 300)
                #expect(day.series[0].points.map(\.value) == [2, 7, 12, 17])
                #expect(day.series[0].points.map(\.minimum) == [0, 5, 10, 15])
                clock.advance(86_400)
                let week = try await reopened.series(nodes: [node], metrics: ["m"], from: Self.epoch, to: clock.now)
                #expect(week.resolutionSeconds == 900)
                #expect(week.series[0].points.map(\.value) == [7, 17])
                await reopened.stop()
            }
            try store.close()
        }
    }

    @Test("NodeSeries: a roll-up bucket is emitted once: not again for a late point once closed, nor after a restart when the store has it")
    func bucketsEmittedOnce() throws {
        let start: Int64 = 1_796_083_200_000  // on a 15-minute boundary
        func rollUps(_ series: inout NodeSeries) throws -> [[Int: [SeriesPoint]]] {
            defer { series.written() }
            return try series.takePending().filter { $0.key.tier == 1 }.map { try NodeBlock.decode($0.data, start: $0.key.start) }
        }

        var series = NodeSeries(schedule: .standard)
        series.ingest(time: start + 1_000, values: [(metric: 1, value: 1)])
        series.closeBuckets(now: start + 301_000)
        #expect(try rollUps(&series) == [[1: [SeriesPoint(time: start, values: [1, 1, 1, 1])]]])
        // A late collection of the bucket just closed: its raw point is kept, the bucket is not
        // emitted again (with this point alone in it).
        series.ingest(time: start + 299_000, values: [(metric: 1, value: 5)])
        series.ingest(time: start + 302_000, values: [(metric: 1, value: 2)])
        series.closeBuckets(now: start + 601_000)
        #expect(try rollUps(&series) == [[1: [SeriesPoint(time: start + 300_000, values: [2, 2, 2, 1])]]])

        // A restart: the store holds the bucket at `start`; the raw points replayed from it on
        // fill the buckets after it only.
        var restored = NodeSeries(schedule: .standard)
        restored.restore(tier: 1, metric: 1, time: start, value: 1, replayFrom: start)
        for (time, value) in [(start + 1_000, 1.0), (start + 299_000, 5), (start + 302_000, 2)] {
            restored.restore(tier: 0, metric: 1, time: time, value: value, replayFrom: start)
        }
        restored.closeBuckets(now: start + 601_000)
        #expect(try rollUps(&restored) == [[1: [SeriesPoint(time: start + 300_000, values: [2, 2, 2, 1])]]])
    }

    @Test("NodeSeries: a roll-up bucket closes at its end exactly, not a millisecond before; each tier at its own end")
    func bucketsCloseAtTheirEnd() throws {
        let start: Int64 = 1_796_083_200_000  // on a 15-minute boundary
        var series = NodeSeries(schedule: .standard)
        series.ingest(time: start + 1_000, values: [(metric: 1, value: 3)])
        func emitted(_ series: inout NodeSeries) -> [Int] {
            defer { series.written() }
            return series.takePending().filter { $0.key.tier > 0 }.map(\.key.tier).sorted()
        }
        _ = emitted(&series)  // the raw chunk
        series.closeBuckets(now: start + 299_999)
        #expect(emitted(&series) == [])
        series.closeBuckets(now: start + 300_000)
        #expect(emitted(&series) == [1])
        series.closeBuckets(now: start + 899_999)
        #expect(emitted(&series) == [])
        series.closeBuckets(now: start + 900_000)
        #expect(emitted(&series) == [2])
        series.closeBuckets(now: start + 3_600_000)
        #expect(emitted(&series) == [])
    }

    @Test("NodeSeries: collections waiting for one flush, up to the fold, become a chunk of one collection each, numbered in the order they came")
    func chunkPerCollection() throws {
        let hour: Int64 = 1_796_083_200_000
        var series = NodeSeries(schedule: .standard)
        let times = (0..<3).map { hour + 1_000 * Int64($0) + 7 }
        for (index, time) in times.enumerated() {
            // The second collection without metric 2 (a value the agent could not read).
            series.ingest(time: time, values: [(1, Double(index)), (2, index == 1 ? .nan : 0.5), (7, -Double(index))])
        }
        let raw = series.takePending().filter { $0.key.tier == 0 }
        #expect(raw.map(\.sequence) == [1, 2, 3] && raw.map(\.earliest) == times && raw.map(\.points) == [3, 2, 3])
        #expect(raw.allSatisfy { $0.data.first == NodeBlock.collectionVersion })
        var block = NodeBlock(start: hour, end: hour + 3_600_000, width: 1)
        for chunk in raw { #expect(try block.append(stored: chunk.data, start: hour)) }
        var expected = NodeBlock(start: hour, end: hour + 3_600_000, width: 1)
        for (index, time) in times.enumerated() {
            expected.append(metric: 1, time: time, values: CollectionOfOne(Double(index)))
            if index != 1 { expected.append(metric: 2, time: time, values: CollectionOfOne(0.5)) }
            expected.append(metric: 7, time: time, values: CollectionOfOne(-Double(index)))
        }
        #expect(block.encoded() == expected.encoded())
    }

    @Test("NodeSeries: points waiting for a flush, over the turn of an hour and past the fold, become the chunks appending them one by one makes")
    func pendingChunks() throws {
        let hour: Int64 = 1_796_083_200_000
        var series = NodeSeries(schedule: .standard)
        var expected: [NodeSeries.BlockKey: NodeBlock] = [:]
        func collect(_ time: Int64, _ values: [(metric: Int, value: Double)]) {
            series.ingest(time: time, values: values)
            let key = NodeSeries.BlockKey(tier: 0, start: hour + (time >= hour + 3_600_000 ? 3_600_000 : 0))
            for (metric, value) in values where value.isFinite {
                expected[key, default: NodeBlock(start: key.start, end: key.start + 3_600_000, width: 1)].append(metric: metric, time: time, values: CollectionOfOne(value))
            }
        }
        // More collections than are kept as they came (folded), one with a value left out, in
        // the first hour; one collection in the next.
        for second in 0..<(NodeSeries.foldAfter + 3) {
            collect(hour + 3_540_000 + Int64(second) * 1_000, [(1, Double(second)), (2, second == 4 ? .nan : 0.5 * Double(second)), (7, -Double(second))])
        }
        collect(hour + 3_600_000 + 500, [(1, 99), (2, 1e300), (7, -0.0)])
        let earliest = try #require(series.writtenThrough)
        #expect(earliest == hour + 3_540_000 - 1, "nothing written: before the first point waiting")

        let raw = series.takePending().filter { $0.key.tier == 0 }
        #expect(raw.map(\.key.start).sorted() == [hour, hour + 3_600_000])
        for chunk in raw {
            let block = try #require(expected[chunk.key])
            // The next hour's one collection is a chunk of one collection: read back, the same block.
            var read = NodeBlock(start: chunk.key.start, end: chunk.end, width: 1)
            #expect(try read.append(stored: chunk.data, start: chunk.key.start))
            #expect(read.encoded() == block.encoded() && chunk.points == block.pointCount && chunk.earliest == block.earliest && chunk.end == block.end)
        }
        #expect(series.unstored().allSatisfy { $0.sequence > 0 } && series.unstored(tier: 0).count == 2, "taken: nothing left pending")
        series.written()
        #expect(series.unstored().isEmpty && series.writtenThrough == hour + 3_600_000 + 500)
    }

    @Test("NodeSeries: a block whose time is over is compacted whole only once no raw or roll-up point of it waits for a flush")
    func wholeCompactionWaits() {
        let hour: Int64 = 1_796_083_200_000
        let sixHours: Int64 = 6 * 3_600_000
        var series = NodeSeries(schedule: .standard)
        func whole(_ tier: Int, _ start: Int64, now: Int64) -> Bool {
            series.compactions(now: now).contains { $0.key == NodeSeries.BlockKey(tier: tier, start: start) && $0.compaction == .whole }
        }
        // A chunk of each block written: the raw block of the first hour, the 6-hour roll-up block.
        series.ingest(time: hour + 1_000, values: [(metric: 1, value: 1)])
        series.closeBuckets(now: hour + 301_000)
        _ = series.takePending()
        series.written()
        // A raw point late in the hour waits: the hour's block is not compacted until it is written.
        series.ingest(time: hour + 3_599_000, values: [(metric: 1, value: 2)])
        #expect(!whole(0, hour, now: hour + 3_600_000))
        _ = series.takePending()
        series.written()
        #expect(whole(0, hour, now: hour + 3_600_000))
        series.compacted(NodeSeries.BlockKey(tier: 0, start: hour))
        // The roll-up block's last bucket, emitted after the block's end, waits likewise.
        series.ingest(time: hour + sixHours - 1_000, values: [(metric: 1, value: 3)])
        series.closeBuckets(now: hour + sixHours + 1)
        #expect(!whole(1, hour, now: hour + sixHours + 300_000))
        _ = series.takePending()
        series.written()
        #expect(whole(1, hour, now: hour + sixHours + 300_000))
    }

    /// Restored at start (a restart), or on their first collections arriving together (nodes
    /// taken over from another server, restored in batches as they come).
    @Test("many nodes restart in batches, flushed and compacted in batches, each keeping exactly its own history",
          arguments: [false, true])
    func batchedRestart(takenOver: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-archive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock(Self.epoch)
        var settings = MetricArchive.Settings()
        settings.flushInterval = .seconds(3600)
        // Batches smaller than the node count, so every path runs several of them.
        settings.flushBatchSize = 2
        settings.restoreBatchSize = 2
        settings.restoreParallelism = 2
        let nodes = (0..<5).map { _ in UUID() }
        for run in 0..<2 {
            let store = try SQLiteStore(directory: directory)
            let archive = MetricArchive(store: store, settings: settings, logger: Logger(label: "test"), now: { clock.now })
            // The second run restores every node, one of them twice and one never seen.
            try await archive.start(restoring: run == 0 || takenOver ? [] : nodes + [nodes[0], UUID()])
            // Minutes 0..<7 before the restart, 7..<20 after, flushed every minute (a chunk a
            // minute, so blocks are compacted after 8); node i reports minute + 100 i.
            for minute in run == 0 ? 0..<7 : 7..<20 {
                let time = Self.epoch.addingTimeInterval(Double(minute) * 60)
                clock.advance(time.timeIntervalSince(clock.now))
                if run == 1 && takenOver && minute == 7 {
                    // All first collections at once (twice for one node): restored together.
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for (index, node) in Array(nodes.enumerated().map { ($0.offset, $0.element) }) + [(0, nodes[0])] {
                            group.addTask { try await archive.ingest(node: node, time: time, values: ["m": Double(minute + 100 * index)]) }
                        }
                        try await group.waitForAll()
                    }
                } else {
                    for (index, node) in nodes.enumerated() {
                        try await archive.ingest(node: node, time: time, values: ["m": Double(minute + 100 * index)])
                    }
                }
                try await archive.flush()
            }
            if run == 1 {
                let raw = try await archive.series(nodes: nodes, metrics: ["m"], from: Self.epoch, to: clock.now)
                for (index, series) in raw.series.enumerated() {
                    #expect(series.points.map(\.value) == (0..<20).map { Double($0 + 100 * index) })
                }
                clock.advance(24 * 3600 - 19 * 60)  // a day on: 5-minute points only
                let day = try await archive.series(nodes: nodes, metrics: ["m"], from: Self.epoch, to: clock.now)
                for (index, series) in day.series.enumerated() {
                    #expect(series.points.map(\.value) == [2, 7, 12, 17].map { Double($0 + 100 * index) })
                }
            }
            await archive.stop()
            try store.close()
        }
    }

    @Test("each flush appends a chunk; a block whose time is over is compacted into one row, losing nothing")
    func chunksAndCompaction() async throws {
        try await Self.withArchive { archive, clock, store in
            // Two hours, and two chunks more than a merge takes in the third.
            let minutes = 120 + NodeSeries.fanOut + 2
            for minute in 0..<minutes {
                try await Self.collect(archive, clock, node: node, minutes: minute..<(minute + 1)) { Double($0 * 3) }
                try await archive.flush()
            }
            let rows = try await store.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max)
            let hour = Int64(Self.epoch.timeIntervalSince1970 * 1000)
            // The first two hours are over: one compacted row each. The third is open: a chunk a minute.
            #expect(rows.filter { $0.start == hour }.map(\.sequence) == [0])
            #expect(rows.filter { $0.start == hour + 3_600_000 }.map(\.sequence) == [0])
            // The first `fanOut` chunks merged into one row (numbered 1), then the two after them.
            #expect(rows.filter { $0.start == hour + 7_200_000 }.map(\.sequence) == [1, NodeSeries.fanOut + 1, NodeSeries.fanOut + 2])
            let answer = try await archive.series(nodes: [node], metrics: ["m"], from: clock.now.addingTimeInterval(-3600), to: clock.now)
            #expect(answer.series[0].points.map(\.value) == ((minutes - 61)..<minutes).map { Double($0 * 3) })
            // Compaction keeps every point: the compacted hour holds all 60.
            let compacted = try #require(rows.first { $0.start == hour + 3_600_000 })
            #expect(compacted.points == 120)  // 60 minutes of two metrics
        }
    }

    @Test("a damaged stored row is left out of answers and left as it is by compaction, which goes on for every other node")
    func damagedRow() async throws {
        try await Self.withArchive { archive, clock, store in
            let other = UUID()
            let garbage: [UInt8] = [NodeBlock.version, 0xFF]  // a series count that never ends
            // An hour, and two chunks more than a merge takes in the next.
            let minutes = 60 + NodeSeries.fanOut + 2
            for minute in 0..<minutes {
                for id in [node, other] {
                    try await Self.collect(archive, clock, node: id, minutes: minute..<(minute + 1)) { Double($0) }
                }
                // Every flush goes through: a damaged row once stopped every later compaction.
                try await archive.flush()
                if minute == 22 {
                    // The node's chunk of minute 20 (chunks are numbered from 1), garbled in the store.
                    var row = try #require(try await store.metricBlocks(nodes: [node], tier: 0, from: 0, to: .max).first { $0.sequence == 21 })
                    row.data = garbage
                    try await store.writeMetricBlocks([row])
                }
            }
            let hour = Int64(Self.epoch.timeIntervalSince1970 * 1000)
            let rows = try await store.metricBlocks(nodes: [node, other], tier: 0, from: 0, to: .max)
            // The other node's hour is compacted, its open hour merged as usual; the damaged
            // node's hour keeps its rows, the garbled one among them.
            #expect(rows.filter { $0.nodeID == other && $0.start == hour }.map(\.sequence) == [0])
            #expect(rows.filter { $0.nodeID == other && $0.start == hour + 3_600_000 }.map(\.sequence) == [1, NodeSeries.fanOut + 1, NodeSeries.fanOut + 2])
            #expect(rows.contains { $0.nodeID == node && $0.start == hour && $0.sequence == 21 && $0.data == garbage })
            #expect(rows.filter { $0.nodeID == node && $0.start == hour }.count > 1)
            // Answers leave the damaged row's point out and keep the rest, for both nodes.
            // (From within the raw tier's hour before now, so that it answers.)
            let from = minutes - 59
            #expect(from < 20)
            let answer = try await archive.series(nodes: [node, other], metrics: ["m"], from: Self.epoch.addingTimeInterval(Double(from * 60)), to: clock.now)
            let values = Dictionary(uniqueKeysWithValues: answer.series.map { ($0.node, $0.points.map(\.value)) })
            #expect(values[other] == (from..<minutes).map(Double.init))
            #expect(values[node] == (from..<minutes).filter { $0 != 20 }.map(Double.init))
        }
    }

    @Test("NodeSeries: an open block's chunks are merged in levels of `fanOut`, so a point is rewritten once per level and rows stay few")
    func chunkLevels() throws {
        let hour: Int64 = 1_796_083_200_000
        var series = NodeSeries(schedule: .standard)
        let key = NodeSeries.BlockKey(tier: 0, start: hour)
        var rewritten = 0
        // Points per raw row, by sequence, as the store would hold them.
        var points: [Int: Int] = [:]
        for second in 0..<3_600 {
            // One-second collections, each flushed on its own: a chunk per second.
            series.ingest(time: hour + Int64(second) * 1_000, values: [(metric: 1, value: Double(second))])
            for chunk in series.takePending() where chunk.key == key { points[chunk.sequence] = chunk.points }
            series.written()
            for (due, compaction) in series.compactions(now: hour + Int64(second) * 1_000) {
                guard case .merge(let first, let last, let level) = compaction else {
                    Issue.record("an open block compacted whole")
                    continue
                }
                #expect(due == key || due.tier > 0)
                guard due == key else { series.merged(due, first: first, last: last, level: level); continue }
                let merged = points.filter { $0.key >= first && $0.key <= last }
                #expect(merged.count == NodeSeries.fanOut)
                let covered = merged.values.reduce(0, +)
                #expect(covered == (1 ..< level + 2).reduce(1) { product, _ in product * NodeSeries.fanOut })
                rewritten += covered
                for sequence in merged.keys { points[sequence] = nil }
                points[first] = covered
                series.merged(due, first: first, last: last, level: level)
            }
        }
        let rows = try #require(series.chunked[key]).rows
        // An hour of one-second chunks, 3,600, is E10 in base 16: 14 rows of level 2, one of 1,
        // none of 0.
        #expect(NodeSeries.fanOut == 16)
        #expect(rows.map(\.level) == Array(repeating: 2, count: 14) + [1])
        #expect(rows.map(\.sequence) == rows.map(\.sequence).sorted() && rows.first?.sequence == 1)
        // Each point rewritten once per level it went through: 225 merges of 16 chunks, 14 of
        // 256 (2 rewrites a point, 3,600 + 3,584), where rewriting the whole block every
        // sixteenth chunk made 16 + 32 + ... + 3,600 = 406,800 (113 a point).
        #expect(rewritten == 225 * 16 + 14 * 256)
        // The block's time over: compacted whole, once its chunks are written.
        #expect(series.compactions(now: hour + 3_600_000).contains { $0.key == key && $0.compaction == .whole })
    }

    @Test("unflushed points are answered from memory; a removed node's history is gone")
    func memoryAndForget() async throws {
        try await Self.withArchive { archive, clock, store in
            try await Self.collect(archive, clock, node: node, minutes: 0..<10) { Double($0) }
            let answer = try await archive.series(nodes: [node], metrics: ["m", "unknown"], from: Self.epoch, to: clock.now)
            #expect(answer.series[0].points.count == 10)
            #expect(answer.series[1].points.isEmpty)
            try await archive.flush()
            #expect(try await store.metricStorageStats().blocks > 0)
            try await archive.forget(node: node)
            #expect(try await store.metricStorageStats().blocks == 0)
            #expect(try await archive.series(nodes: [node], metrics: ["m"], from: Self.epoch, to: clock.now).series[0].points.isEmpty)
        }
    }

    @Test("retention schedules are read from text, and bad ones refused with a reason")
    func scheduleText() throws {
        #expect(try RetentionSchedule(parsing: "raw:1h,5m:1d,15m:1w").tiers.map(\.keepSeconds) == [3600, 86_400, 604_800])
        #expect(try RetentionSchedule(parsing: "raw:2h,1h:30d").tiers.map(\.resolutionSeconds) == [0, 3600])
        for bad in ["", "5m:1d", "raw:1h,5m:1d,7m:1w", "raw:1h,5m:1x", "raw:1h,15m:1d,5m:1w", "raw:1d,5m:1h"] {
            #expect(throws: RetentionError.self, "\(bad)") { try RetentionSchedule(parsing: bad) }
        }
    }
}
