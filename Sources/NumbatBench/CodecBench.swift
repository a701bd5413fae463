import ErlangDist
import ErlangTerm
import Foundation
import NumbatServices

/// One term shape of the codec file: its name and `term_to_binary` bytes as the BEAM wrote them.
struct CodecRecord: Sendable {
    var name: String
    var bytes: [UInt8]
}

/// Iterations and time of one codec loop.
struct LoopResult: Sendable {
    /// Iterations per second.
    var rate: Double

    init(iterations: Int, seconds: Double) { rate = seconds > 0 ? Double(iterations) / seconds : 0 }
    init(rate: Double) { self.rate = rate }
}

struct CodecResult: Sendable {
    var name: String
    /// Bytes of the encoded term (version byte included).
    var encodedSize: Int
    var decodedSize: Int
    var encode: LoopResult
    var decode: LoopResult
    /// Swift only: `FlatTerm(decoding:)`, the arena decoder (zero for the Erlang side).
    var flatDecode = LoopResult(rate: 0)

    var encodeBytesPerSecond: Double { encode.rate * Double(encodedSize) }

    /// Per shape, the median rates of several runs (each run lists the shapes in the same order).
    static func median(_ runs: [[CodecResult]]) -> [CodecResult] {
        guard var result = runs.first else { return [] }
        for index in result.indices {
            result[index].encode = LoopResult(rate: NumbatBench.median(runs.map { $0[index].encode.rate }))
            result[index].decode = LoopResult(rate: NumbatBench.median(runs.map { $0[index].decode.rate }))
            result[index].flatDecode = LoopResult(rate: NumbatBench.median(runs.map { $0[index].flatDecode.rate }))
        }
        return result
    }
}

enum CodecBench {
    /// The shapes of the server's real traffic, made by Numbat's agents on a real node.
    static let trafficShapes: Set<String> = ["metric_reply", "log_batch"]

    /// Log events in the `log_batch` shape.
    static let logBatchEvents = 50

    /// Has `node` write the term file: the synthetic shapes of numbat_bench:codec_terms/0, then
    /// the server's real traffic, made by the agents Numbat injects (loaded here as the server
    /// loads them): one metric collection's reply and one batch of log events.
    static func writeTermFile(_ local: LocalNode, node: NodeName, file: URL, minorVersion: Int) async throws {
        for name in ["numbat_metrics_agent", "numbat_log_agent"] {
            let agent = try Agent.named(name)
            let loaded = try await local.rpc(node, "code", "load_binary", [.atom(agent.module), .string("numbat/\(name).beam"), .binary(agent.beam)])
            guard loaded[element: 0] == .atom("module") else { throw BenchError.unexpected("\(node) refused \(name): \(loaded)") }
        }
        let traffic = try await local.rpc(node, "numbat_bench", "traffic_terms", [.integer(logBatchEvents)], timeout: .seconds(30))
        _ = try await local.rpc(node, "numbat_bench", "write_codec_file", [.binary(Array(file.path.utf8)), .integer(minorVersion), traffic])
    }

    /// `iterations` encodings of `record`'s term, untimed; out of line so that an instruction
    /// counter can collect exactly this function (`callgrind --toggle-collect`).
    @inline(never)
    static func countedEncode(_ term: Term, iterations: Int) {
        var total = 0
        for _ in 0..<iterations { total &+= encodeOnce(term) }
        blackHole(total)
    }

    @inline(never)
    static func encodeOnce(_ term: Term) -> Int { term.encoded().count }

    /// `iterations` decodings of `record`, untimed (see `countedEncode`).
    @inline(never)
    static func countedDecode(_ record: CodecRecord, iterations: Int) throws {
        let decoder = TermDecoder()
        for _ in 0..<iterations { try decodeOnce(decoder, record.bytes) }
    }

    @inline(never)
    static func decodeOnce(_ decoder: TermDecoder, _ bytes: [UInt8]) throws { blackHole(try decoder.decode(bytes)) }

    /// `iterations` decodings of `record` into a `FlatTerm`, untimed (see `countedEncode`).
    /// Sums the node counts, so that the compiler cannot merge this with `countedDecode` (a
    /// merged body is entered through both names, and callgrind's toggle then counts nothing).
    @inline(never)
    static func countedFlatDecode(_ record: CodecRecord, iterations: Int) throws {
        let decoder = TermDecoder()
        var nodes = 0
        for _ in 0..<iterations { nodes &+= try flatDecodeOnce(decoder, record.bytes) }
        blackHole(nodes)
    }

    @inline(never)
    static func flatDecodeOnce(_ decoder: TermDecoder, _ bytes: [UInt8]) throws -> Int { try FlatTerm(decoding: bytes, with: decoder).nodeCount }

    /// Reads records of `<<NameLength:8, Name, Size:32, Bytes:Size>>` (numbat_bench:write_codec_file/2).
    static func readRecords(_ url: URL) throws -> [CodecRecord] {
        let data = [UInt8](try Data(contentsOf: url))
        var records: [CodecRecord] = []
        var offset = 0
        while offset < data.count {
            guard offset + 1 <= data.count else { throw BenchError.unexpected("codec file truncated") }
            let nameLength = Int(data[offset])
            offset += 1
            guard offset + nameLength + 4 <= data.count else { throw BenchError.unexpected("codec file truncated") }
            let name = String(decoding: data[offset..<offset + nameLength], as: UTF8.self)
            offset += nameLength
            let size = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard offset + size <= data.count else { throw BenchError.unexpected("codec file truncated") }
            records.append(CodecRecord(name: name, bytes: Array(data[offset..<offset + size])))
            offset += size
        }
        return records
    }

    /// Swift's `Term.encoded()`, `TermDecoder.decode(_:)` and `FlatTerm(decoding:)` on each
    /// record, about `seconds` each.
    static func swift(_ records: [CodecRecord], seconds: Double, encode doEncode: Bool = true, decode doDecode: Bool = true) throws -> [CodecResult] {
        let decoder = TermDecoder()
        return try records.map { record in
            let term = try decoder.decode(record.bytes)
            let encoded = term.encoded()
            let encode = !doEncode ? LoopResult(rate: 0) : measure(seconds: seconds) { iterations in
                var total = 0
                for _ in 0..<iterations { total &+= term.encoded().count }
                blackHole(total)
            }
            let bytes = record.bytes
            let decode = !doDecode ? LoopResult(rate: 0) : measure(seconds: seconds) { iterations in
                for _ in 0..<iterations { blackHole(try! decoder.decode(bytes)) }
            }
            let flatDecode = !doDecode ? LoopResult(rate: 0) : measure(seconds: seconds) { iterations in
                for _ in 0..<iterations { blackHole(try! FlatTerm(decoding: bytes, with: decoder)) }
            }
            var result = CodecResult(name: record.name, encodedSize: encoded.count, decodedSize: bytes.count, encode: encode, decode: decode)
            result.flatDecode = flatDecode
            return result
        }
    }

    /// Whether Swift re-encodes each record to the BEAM's exact bytes (maps may differ in key order).
    static func identicalEncodings(_ records: [CodecRecord]) -> [String: Bool] {
        var result: [String: Bool] = [:]
        for record in records {
            result[record.name] = (try? TermDecoder().decode(record.bytes).encoded()) == record.bytes
        }
        return result
    }

    /// The same loops in Erlang on `node` (numbat_bench:codec_bench/3).
    static func erlang(_ local: LocalNode, node: NodeName, file: URL, seconds: Double, minorVersion: Int, shapes: Int) async throws -> [CodecResult] {
        let millis = Int(seconds * 1000)
        let reply = try await local.rpc(node, "numbat_bench", "codec_bench",
                                        [.binary(Array(file.path.utf8)), .integer(millis), .integer(minorVersion)],
                                        timeout: .seconds(shapes * 2 * Int(seconds * 3 + 2) + 60))
        guard case .list(let rows) = reply else { throw BenchError.unexpected("numbat_bench:codec_bench returned \(reply)") }
        return try rows.map { row in
            guard case .tuple(let parts) = row, parts.count == 6, case .binary(let name) = parts[0],
                let size = parts[1].intValue, let encodeIterations = parts[2].intValue, let encodeMicros = parts[3].intValue,
                let decodeIterations = parts[4].intValue, let decodeMicros = parts[5].intValue
            else { throw BenchError.unexpected("unexpected codec_bench row \(row)") }
            return CodecResult(
                name: String(decoding: name, as: UTF8.self), encodedSize: size, decodedSize: 0,
                encode: LoopResult(iterations: encodeIterations, seconds: Double(encodeMicros) / 1e6),
                decode: LoopResult(iterations: decodeIterations, seconds: Double(decodeMicros) / 1e6))
        }
    }

    /// Calibrates by doubling until a run takes a tenth of `seconds` (that is the warm-up),
    /// then times one run sized to take about `seconds`; as numbat_bench:measure/2 does.
    static func measure(seconds: Double, _ loop: (Int) -> Void) -> LoopResult {
        var iterations = 1
        var elapsed: UInt64 = 0
        let calibrationTarget = UInt64(seconds * 1e8)
        while true {
            let start = monotonicNanos()
            loop(iterations)
            elapsed = monotonicNanos() - start
            if elapsed >= calibrationTarget { break }
            iterations *= 2
        }
        let final = max(1, Int(Double(iterations) * seconds * 1e9 / Double(max(1, elapsed))))
        let start = monotonicNanos()
        loop(final)
        return LoopResult(iterations: final, seconds: Double(monotonicNanos() - start) / 1e9)
    }
}
