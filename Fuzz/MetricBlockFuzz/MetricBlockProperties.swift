@testable import NumbatServices

/// Stored metric blocks (`NodeBlock`, the series codec: `SeriesDecoder`, `BitStreamReader`)
/// read from fuzzed bytes both ways the server reads them: decoded into points (queries,
/// restarts) and appended straight into a new block (compaction, `NodeBlock.append(stored:)`).
/// Blocks come from the server's own store, but a damaged row must be an error, never a crash.
/// What must hold:
///
/// - `decode` returns points or throws `SeriesCodecError`, nothing else.
/// - Where `decode` throws, `append(stored:)` throws `SeriesCodecError` or stops (false) before
///   the damage; it never answers true.
/// - Where `decode` succeeds, `append(stored:)` throws only for a series of another width than
///   the block's; it answers false only when some series' times do not increase, or a series id
///   repeats; when it answers true, the new block re-encodes to bytes that decode to every
///   series of the input bit for bit (a repeated id's points ending with the last series', the
///   one `decode` keeps).
enum MetricBlockProperties {
    static let start: Int64 = 1_796_083_200_000

    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        let decoded: [Int: [SeriesPoint]]?
        do {
            decoded = try NodeBlock.decode(bytes, start: start)
        } catch {
            precondition(error is SeriesCodecError, "decode threw \(error)")
            decoded = nil
        }
        // The block's width: the decoded points', else raw.
        let width = decoded?.values.lazy.compactMap(\.first?.values.count).first ?? 1
        var block = NodeBlock(start: start, end: start + 3_600_000, width: width)
        let appended: Bool
        do {
            appended = try block.append(stored: bytes, start: start)
        } catch {
            precondition(error is SeriesCodecError, "append(stored:) threw \(error)")
            if decoded != nil { precondition("\(error)".contains("width"), "append(stored:) refused what decode read: \(error)") }
            return false
        }
        guard let decoded else {
            precondition(!appended, "append(stored:) read a block decode refused")
            return false
        }
        let increasing = decoded.values.allSatisfy { points in zip(points, points.dropFirst()).allSatisfy { $0.time < $1.time } }
        let repeated = seriesCount(bytes) != decoded.count
        guard appended else {
            precondition(!increasing || repeated, "append(stored:) refused series in time order")
            return true
        }
        let again: [Int: [SeriesPoint]]
        do {
            again = try NodeBlock.decode(block.encoded(), start: start)
        } catch {
            preconditionFailure("a block made by append(stored:) does not decode: \(error)")
        }
        precondition(Set(again.keys) == Set(decoded.keys), "series \(again.keys.sorted()) after \(decoded.keys.sorted())")
        for (metric, points) in decoded {
            let stored = again[metric] ?? []
            precondition(repeated ? stored.count >= points.count : stored.count == points.count,
                         "metric \(metric): \(stored.count) points after \(points.count)")
            for (a, b) in zip(stored.suffix(points.count), points) {
                precondition(a.time == b.time && a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "metric \(metric): \(a) after \(b)")
            }
        }
        return true
    }

    /// The series count in a block's header (after the version byte), read as LEB128.
    static func seriesCount(_ bytes: [UInt8]) -> Int {
        var value = 0
        var shift = 0
        for byte in bytes.dropFirst() {
            guard shift < 63 else { break }
            value |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return value
    }
}
