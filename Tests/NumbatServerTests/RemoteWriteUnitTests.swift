import Foundation
@testable import NumbatServer
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// Snappy's block format, both ways: round trips, the format's edge cases, hand-made streams
/// using every element kind, and malformed input refused.
@Suite("remote write: snappy")
struct SnappyTests {
    @Test("round trips random, repetitive and mixed data of many sizes, fragment boundaries included")
    func roundTrips() throws {
        var random = SeededRandom(seed: 0x5EED_0001)
        let sizes = [0, 1, 2, 3, 4, 5, 15, 16, 17, 59, 60, 61, 255, 256, 257, 4095, 65535, 65536, 65537, 200_000]
        for size in sizes {
            let noise = random.bytes(size)
            let run = [UInt8](repeating: 0x61, count: size)
            let text = Array(String(repeating: "erlang_memory_total_bytes{node=\"app@db1\"} ", count: size / 40 + 1).utf8.prefix(size))
            var mixed: [UInt8] = []
            while mixed.count < size {
                mixed += random.chance(1, in: 2) ? random.bytes(random.int(1...40)) : Array(mixed.suffix(random.int(1...300)))
                if mixed.isEmpty { mixed = [1] }
            }
            mixed = Array(mixed.prefix(size))
            for data in [noise, run, text, mixed] {
                let compressed = Snappy.compress(data)
                #expect(compressed.count <= Snappy.maxCompressedLength(data.count))
                #expect(try Snappy.decompress(compressed) == data, "size \(size)")
                #expect(try Snappy.uncompressedLength(compressed) == data.count)
            }
            if size >= 1000 {
                // Matching really happens: repetitive input shrinks a lot, noise grows a little.
                #expect(Snappy.compress(run).count < size / 20, "run of \(size)")
                #expect(Snappy.compress(text).count < size / 4, "text of \(size)")
                #expect(Snappy.compress(noise).count <= size + size / 60 + 16, "noise of \(size)")
            }
        }
    }

    @Test("the empty input is the single byte 0; short inputs are one literal")
    func smallest() throws {
        #expect(Snappy.compress([]) == [0])
        #expect(try Snappy.decompress([0]) == [])
        #expect(Snappy.compress([0x41]) == [1, 0x00, 0x41])
        #expect(Snappy.compress(Array("hello".utf8)) == [5, 4 << 2] + Array("hello".utf8))
    }

    @Test("literal lengths: in the tag up to 60, then in 1, 2 and 3 extra bytes")
    func literalLengths() throws {
        for (length, header) in [(60, [UInt8(59 << 2)]), (61, [60 << 2, 60]), (256, [60 << 2, 255]),
                                 (257, [61 << 2, 0x00, 0x01]), (65536, [61 << 2, 0xFF, 0xFF]), (65537, [62 << 2, 0x00, 0x00, 0x01])] {
            var random = SeededRandom(seed: UInt64(length))
            let data = random.bytes(length)
            let encoded = data.withUnsafeBufferPointer { bytes in
                var output: [UInt8] = []
                Snappy.appendLiteral(bytes, from: 0, to: length, into: &output)
                return output
            }
            #expect(Array(encoded.prefix(header.count)) == header, "literal of \(length)")
            var stream: [UInt8] = []
            Snappy.appendVarint(UInt32(length), to: &stream)
            #expect(try Snappy.decompress(stream + encoded) == data)
        }
        // A 4-byte literal length (tag 63) is read too.
        #expect(try Snappy.decompress([3, 63 << 2, 2, 0, 0, 0, 7, 8, 9]) == [7, 8, 9])
    }

    @Test("hand-made streams with every copy kind, overlapping copies (runs) included")
    func copies() throws {
        // "abcd" then a 1-byte-offset copy of 8 from 4 back (overlapping: "abcdabcd").
        #expect(try Snappy.decompress([12, 3 << 2] + Array("abcd".utf8) + [0b01 | (8 - 4) << 2, 4]) == Array("abcdabcdabcd".utf8))
        // A 2-byte-offset copy of 64 from 1 back: a run.
        #expect(try Snappy.decompress([65, 0 << 2, 0x7A, 0b10 | 63 << 2, 1, 0]) == [UInt8](repeating: 0x7A, count: 65))
        // A 4-byte-offset copy.
        #expect(try Snappy.decompress([6, 2 << 2, 1, 2, 3, 0b11 | 2 << 2, 3, 0, 0, 0]) == [1, 2, 3, 1, 2, 3])
        // A 1-byte-offset copy whose offset uses the tag's 3 high bits (offset 1024 + 5).
        var prefix: [UInt8] = []
        for index in 0..<1100 { prefix.append(UInt8(index % 251)) }
        var stream: [UInt8] = []
        Snappy.appendVarint(1104, to: &stream)
        prefix.withUnsafeBufferPointer { Snappy.appendLiteral($0, from: 0, to: 1100, into: &stream) }
        stream += [0b01 | 0 << 2 | 4 << 5, 5]
        #expect(try Snappy.decompress(stream) == prefix + prefix[(1100 - 1029)..<(1100 - 1029 + 4)])
        // The compressor splits long matches into pieces of at most 64 and uses the short form.
        var output: [UInt8] = []
        Snappy.appendCopy(offset: 10, length: 130, into: &output)
        #expect(output == [0b10 | 63 << 2, 10, 0, 0b10 | 59 << 2, 10, 0, 0b01 | 2 << 2, 10])
    }

    @Test("malformed input is refused with a reason")
    func malformed() {
        let cases: [(String, [UInt8])] = [
            ("no preamble", []),
            ("preamble cut short", [0x80]),
            ("preamble over 5 bytes", [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            ("preamble over 32 bits", [0xFF, 0xFF, 0xFF, 0xFF, 0x1F]),
            ("literal runs past the end", [5, 4 << 2, 1, 2]),
            ("literal length cut short", [100, 61 << 2, 1]),
            ("offset 0", [8, 3 << 2, 1, 2, 3, 4, 0b01, 0]),
            ("offset before the start", [8, 3 << 2, 1, 2, 3, 4, 0b01, 5]),
            ("copy offset cut short", [8, 3 << 2, 1, 2, 3, 4, 0b10, 1]),
            ("longer than announced", [2, 3 << 2, 1, 2, 3, 4]),
            ("shorter than announced", [9, 3 << 2, 1, 2, 3, 4]),
            ("copy longer than announced", [5, 3 << 2, 1, 2, 3, 4, 0b01, 4]),
        ]
        for (reason, stream) in cases {
            #expect(throws: Snappy.Failure.self, "\(reason)") { try Snappy.decompress(stream) }
        }
    }
}

@Suite("remote write: protobuf")
struct RemoteWriteProtobufTests {
    static func series(_ name: String, node: String = "app@db1", family: String? = "Erlang/OTP 25") -> RemoteWriteSeries {
        var labels = [RemoteWriteLabel("node", node), RemoteWriteLabel("__name__", name)]
        if let family { labels.append(RemoteWriteLabel("family", family)) }
        return RemoteWriteSeries(labels: labels)
    }

    @Test("a WriteRequest's bytes, field by field, for one sample")
    func bytes() {
        let series = RemoteWriteSeries(labels: [RemoteWriteLabel("a", "b")])
        let encoded = RemoteWriteProtobuf.encode([RemoteWriteSample(series: series, timestamp: 1, value: 1.0)])
        // timeseries(1) len 17: labels(1) len 6 {name(1) "a", value(2) "b"}, samples(2) len 11 {value(1) fixed64 1.0, timestamp(2) 1}
        let one: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]
        #expect(encoded == [0x0A, 21, 0x0A, 6, 0x0A, 1, 0x61, 0x12, 1, 0x62, 0x12, 11] + one + [0x10, 1])
    }

    @Test("labels sorted by name, samples grouped by series in order, negative and zero values and times kept")
    func roundTrip() throws {
        let memory = Self.series("erlang_memory_total_bytes")
        let processes = Self.series("erlang_vm_process_count", family: nil)
        let samples = [
            RemoteWriteSample(series: memory, timestamp: 1_700_000_000_000, value: 31_457_280),
            RemoteWriteSample(series: processes, timestamp: 1_700_000_000_000, value: 0),
            RemoteWriteSample(series: memory, timestamp: 1_700_000_060_000, value: -2.5),
            RemoteWriteSample(series: processes, timestamp: -5, value: .nan),
            RemoteWriteSample(series: memory, timestamp: 0, value: 1e300),
        ]
        let decoded = try RemoteWriteProtobuf.decode(RemoteWriteProtobuf.encode(samples))
        #expect(decoded.count == 2)
        #expect(decoded[0].labels.map(\.name) == ["__name__", "family", "node"])
        #expect(decoded[0].labels.map(\.value) == ["erlang_memory_total_bytes", "Erlang/OTP 25", "app@db1"])
        #expect(decoded[0].samples == [.init(timestamp: 1_700_000_000_000, value: 31_457_280), .init(timestamp: 1_700_000_060_000, value: -2.5),
                                       .init(timestamp: 0, value: 1e300)])
        #expect(decoded[1].labels.map(\.name) == ["__name__", "node"])
        #expect(decoded[1].samples.count == 2)
        #expect(decoded[1].samples[0] == .init(timestamp: 1_700_000_000_000, value: 0))
        #expect(decoded[1].samples[1].timestamp == -5 && decoded[1].samples[1].value.isNaN)
        // Long labels (lengths over 127 take two varint bytes) and UTF-8.
        let long = RemoteWriteSeries(labels: [RemoteWriteLabel("__name__", "x"), RemoteWriteLabel("node", String(repeating: "é", count: 300))])
        let again = try RemoteWriteProtobuf.decode(RemoteWriteProtobuf.encode([RemoteWriteSample(series: long, timestamp: 1, value: 2)]))
        #expect(again.first?.labels.last?.value == String(repeating: "é", count: 300))
    }

    @Test("random batches decode to what was encoded, through snappy as on the wire")
    func randomBatches() throws {
        var random = SeededRandom(seed: 0x5EED_0002)
        let pool = (0..<50).map { Self.series("metric_\($0)", node: "node\($0 % 7)@host") }
        for _ in 0..<50 {
            let samples = (0..<random.int(1...500)).map { _ in
                RemoteWriteSample(series: random.element(of: pool), timestamp: Int64(random.int(0...2_000_000_000_000)),
                                  value: Double(random.int(-1_000_000...1_000_000)) / 7)
            }
            let decoded = try RemoteWriteProtobuf.decode(Snappy.decompress(RemoteWriteRequest.body(samples)))
            var expected: [String: [RemoteWriteProtobuf.DecodedSample]] = [:]
            for sample in samples { expected[sample.series.name, default: []].append(.init(timestamp: sample.timestamp, value: sample.value)) }
            #expect(decoded.count == expected.count)
            for series in decoded {
                let name = try #require(series.labels.first { $0.name == "__name__" }?.value)
                #expect(series.samples == expected[name])
            }
        }
    }
}

@Suite("remote write: queue")
struct RemoteWriteQueueTests {
    static let series = RemoteWriteSeries(labels: [RemoteWriteLabel("__name__", "m")])
    static func samples(_ range: Range<Int>) -> [RemoteWriteSample] {
        range.map { RemoteWriteSample(series: series, timestamp: Int64($0), value: Double($0)) }
    }

    static func batch(_ action: RemoteWriteQueue.Action) -> [Int64]? {
        if case .send(let batch) = action { return batch.map(\.timestamp) }
        return nil
    }

    let start = ContinuousClock.now
    var settings = RemoteWriteQueue.Settings(capacity: 10, batchSize: 4, batchDelay: .seconds(1), minBackoff: .seconds(1), maxBackoff: .seconds(4))

    @Test("a full batch goes at once; a partial one after the batch delay; nothing queued is idle")
    func batching() {
        var queue = RemoteWriteQueue(settings: settings)
        guard case .idle = queue.next(now: start) else { Issue.record("an empty queue is idle"); return }
        queue.enqueue(Self.samples(0..<2), now: start)
        guard case .wait(let until) = queue.next(now: start) else { Issue.record("a partial batch waits"); return }
        #expect(until == start + .seconds(1))
        queue.enqueue(Self.samples(2..<5), now: start + .milliseconds(100))
        #expect(Self.batch(queue.next(now: start + .milliseconds(100))) == [0, 1, 2, 3])
        guard case .idle = queue.next(now: start + .milliseconds(100)) else { Issue.record("one send at a time"); return }
        queue.finish(.delivered, now: start + .milliseconds(200))
        // The one left has waited since the first enqueue: it goes as soon as the delay is over.
        #expect(Self.batch(queue.next(now: start + .seconds(1))) == [4])
        queue.finish(.delivered, now: start + .seconds(1))
        #expect(queue.counters.sentSamples == 5 && queue.counters.sentBatches == 2)
        #expect(queue.count == 0)
    }

    @Test("flushing (the server stops): a partial batch goes at once; a backoff still waits")
    func flushing() {
        var queue = RemoteWriteQueue(settings: settings)
        queue.enqueue(Self.samples(0..<2), now: start)
        #expect(Self.batch(queue.next(now: start, flushing: true)) == [0, 1])
        queue.finish(.retryable, now: start)
        guard case .wait = queue.next(now: start, flushing: true) else { Issue.record("a backoff waits while flushing"); return }
    }

    @Test("5xx and network errors retry the same samples, first, with a doubling backoff up to the maximum")
    func retries() {
        var queue = RemoteWriteQueue(settings: settings)
        queue.enqueue(Self.samples(0..<6), now: start)
        var now = start
        #expect(Self.batch(queue.next(now: now)) == [0, 1, 2, 3])
        var waits: [Duration] = []
        for _ in 0..<4 {
            queue.finish(.retryable, now: now)
            guard case .wait(let until) = queue.next(now: now) else { Issue.record("a failure waits"); return }
            waits.append(until - now)
            now = until
            #expect(Self.batch(queue.next(now: now)) == [0, 1, 2, 3], "the same samples again, oldest first")
        }
        #expect(waits == [.seconds(1), .seconds(2), .seconds(4), .seconds(4)])
        queue.finish(.delivered, now: now)
        #expect(Self.batch(queue.next(now: now)) == [4, 5], "after a retry the rest goes without the batch delay")
        queue.finish(.delivered, now: now)
        #expect(queue.counters == { var c = RemoteWriteQueue.Counters(); c.sentSamples = 6; c.sentBatches = 2; c.failedBatches = 4; return c }())
        // Success resets the backoff.
        #expect(queue.currentBackoff == .seconds(1))
    }

    @Test("a 4xx drops the batch, counted, and does not retry")
    func rejected() {
        var queue = RemoteWriteQueue(settings: settings)
        queue.enqueue(Self.samples(0..<5), now: start)
        #expect(Self.batch(queue.next(now: start)) == [0, 1, 2, 3])
        queue.finish(.rejected, now: start)
        #expect(Self.batch(queue.next(now: start + .seconds(1))) == [4], "no backoff after a 4xx: the receiver is up")
        #expect(queue.counters.rejectedSamples == 4 && queue.counters.failedBatches == 1 && queue.counters.sentSamples == 0)
    }

    @Test("a receiver's Retry-After replaces the backoff, within the minimum backoff and the cap; the doubling goes on underneath")
    func retryAfter() {
        var capped = settings
        capped.maxRetryAfter = .seconds(60)
        var queue = RemoteWriteQueue(settings: capped)
        queue.enqueue(Self.samples(0..<4), now: start)
        var now = start
        var waits: [Duration] = []
        // Asked: 10 s (beyond the 4 s maximum backoff), 0 (no tight loop: the 1 s minimum),
        // an hour (capped at 60 s), none (the doubled backoff: 1, 2, 4, then 4).
        for asked in [Duration.seconds(10), .zero, .seconds(3600), nil, nil] {
            #expect(Self.batch(queue.next(now: now)) == [0, 1, 2, 3])
            queue.finish(.retryable, now: now, retryAfter: asked)
            guard case .wait(let until) = queue.next(now: now) else { Issue.record("a failure waits"); return }
            #expect(queue.backingOffUntil == until)
            waits.append(until - now)
            now = until
        }
        #expect(waits == [.seconds(10), .seconds(1), .seconds(60), .seconds(4), .seconds(4)])
        // A refusal names no wait, whatever it carried.
        #expect(Self.batch(queue.next(now: now)) == [0, 1, 2, 3])
        queue.finish(.rejected, now: now, retryAfter: .seconds(30))
        #expect(queue.backingOffUntil == nil && queue.counters.rejectedSamples == 4)
        #expect(RemoteWriteQueue.Settings(minBackoff: .seconds(2), maxRetryAfter: .seconds(1)).problem != nil)
    }

    @Test("bounded: beyond the capacity the oldest samples not being sent are dropped and counted")
    func bounded() {
        var queue = RemoteWriteQueue(settings: settings)
        #expect(queue.enqueue(Self.samples(0..<8), now: start) == 0)
        #expect(Self.batch(queue.next(now: start)) == [0, 1, 2, 3])
        // 4 being sent + 4 queued + 5 new = 13: the 3 oldest queued ones (4, 5, 6) go.
        #expect(queue.enqueue(Self.samples(8..<13), now: start) == 3)
        #expect(queue.count == 10)
        queue.finish(.retryable, now: start)
        // The failed batch is back in front: 0-3, 7-12; still within the bound.
        #expect(queue.count == 10)
        // More while backing off: the oldest go, now the failed batch's too.
        #expect(queue.enqueue(Self.samples(13..<15), now: start) == 2)
        #expect(Self.batch(queue.next(now: start + .seconds(1))) == [2, 3, 7, 8])
        queue.finish(.delivered, now: start + .seconds(1))
        // More than the capacity at once: 4 in flight, so only the newest 6 stay queued.
        #expect(Self.batch(queue.next(now: start + .seconds(1))) == [9, 10, 11, 12])
        #expect(queue.enqueue(Self.samples(100..<120), now: start + .seconds(1)) == 16)
        #expect(queue.count == 10)
        queue.finish(.delivered, now: start + .seconds(1))
        #expect(Self.batch(queue.next(now: start + .seconds(1))) == [114, 115, 116, 117])
        #expect(queue.counters.droppedSamples == 21)
    }

    @Test("a long outage: memory stays bounded, delivery resumes in order with the newest samples")
    func outage() {
        var settings = settings
        settings.capacity = 1000
        settings.batchSize = 100
        var queue = RemoteWriteQueue(settings: settings)
        var now = start
        var sent: [Int64] = []
        var produced = 0
        // 10,000 samples arrive, 10 per second, while the receiver is down for the first 600 s.
        for second in 0..<1000 {
            now = start + .seconds(second)
            queue.enqueue(Self.samples(produced..<produced + 10), now: now)
            produced += 10
            #expect(queue.count <= 1000)
            while case .send(let batch) = queue.next(now: now) {
                if second < 600 {
                    queue.finish(.retryable, now: now)
                } else {
                    sent += batch.map(\.timestamp)
                    queue.finish(.delivered, now: now)
                }
            }
        }
        #expect(sent == sent.sorted(), "in order")
        #expect(queue.counters.sentSamples + queue.counters.droppedSamples + queue.count == 10_000)
        #expect(queue.counters.droppedSamples > 0)
        #expect(sent.last == 9_999 || queue.count > 0)
    }

    @Test("a queued sample is 24 bytes (docs/metrics.md says so): the series is shared, not copied")
    func sampleSize() {
        #expect(MemoryLayout<RemoteWriteSample>.stride == 24)
    }

    @Test("settings that cannot work are named")
    func settingsProblems() {
        #expect(RemoteWriteQueue.Settings(capacity: 10, batchSize: 20).problem != nil)
        #expect(RemoteWriteQueue.Settings(batchSize: 0).problem != nil)
        #expect(RemoteWriteQueue.Settings(minBackoff: .seconds(2), maxBackoff: .seconds(1)).problem != nil)
        #expect(RemoteWriteQueue.Settings().problem == nil)
    }
}

@Suite("remote write: samples, request and configuration")
struct RemoteWriteSamplesTests {
    @Test("a collection as samples: the /metrics export's names and units, node and family labels, library metrics by label")
    func samples() {
        var converter = RemoteWriteSamples()
        let node = UUID()
        let time = Date(timeIntervalSince1970: 1_700_000_000.1234)
        let values: [String: Double] = ["memory_total": 31_457_280, "runtime_ms": 1500, "process_count": 42, "folsom.latency.p99": 99,
                      "not_a_known_metric": 1, "reductions": .nan]
        let samples = converter.samples(node: node, name: "app@db1", family: "Erlang/OTP 25", time: time, values: values)
        let byName = Dictionary(uniqueKeysWithValues: samples.map { ($0.series.name + ($0.series.label("metric").map { "/" + $0 } ?? ""), $0) })
        #expect(Set(byName.keys) == ["erlang_memory_total_bytes", "erlang_runtime_seconds_total", "erlang_vm_process_count", "folsom_metric/latency.p99"])
        #expect(byName["erlang_runtime_seconds_total"]?.value == 1.5)
        #expect(byName["erlang_memory_total_bytes"]?.value == 31_457_280)
        #expect(samples.allSatisfy { $0.timestamp == 1_700_000_000_123 })
        #expect(byName["erlang_vm_process_count"]?.series.labels == [RemoteWriteLabel("__name__", "erlang_vm_process_count"),
                                                                    RemoteWriteLabel("family", "Erlang/OTP 25"), RemoteWriteLabel("node", "app@db1")])
        // The same series objects next time; new ones when the node's family changes; no family label when there is none.
        let again = converter.samples(node: node, name: "app@db1", family: "Erlang/OTP 25", time: time, values: ["memory_total": 1])
        #expect(again.first?.series === byName["erlang_memory_total_bytes"]?.series)
        let moved = converter.samples(node: node, name: "app@db1", family: "", time: time, values: ["memory_total": 1])
        #expect(moved.first?.series.labels.map(\.name) == ["__name__", "node"])
    }

    @Test("credentials a receiver echoes in an error are masked")
    func redaction() {
        let bearer = RemoteWriteSettings.Authentication.bearer(RemoteWriteSecret("tok-123"))
        #expect(bearer.redact(#"cannot find the provided auth token "Bearer tok-123" in config"#) == #"cannot find the provided auth token "Bearer ********" in config"#)
        let basic = RemoteWriteSettings.Authentication.basic(username: "numbat", password: RemoteWriteSecret("pw"))
        let header = Data("numbat:pw".utf8).base64EncodedString()
        #expect(basic.redact("bad password pw, header \(header)") == "bad password ********, header ********")
        #expect(RemoteWriteSettings.Authentication.none.redact("as is") == "as is")
    }

    @Test("status codes: 2xx delivered, 429 and 5xx retried, other 4xx refused")
    func outcomes() {
        #expect(RemoteWriteRequest.outcome(status: 204) == .delivered)
        #expect(RemoteWriteRequest.outcome(status: 200) == .delivered)
        #expect(RemoteWriteRequest.outcome(status: 500) == .retryable)
        #expect(RemoteWriteRequest.outcome(status: 503) == .retryable)
        #expect(RemoteWriteRequest.outcome(status: 429) == .retryable)
        #expect(RemoteWriteRequest.outcome(status: 400) == .rejected)
        #expect(RemoteWriteRequest.outcome(status: 401) == .rejected)
        #expect(RemoteWriteRequest.outcome(status: 404) == .rejected)
    }

    @Test("Retry-After: delta-seconds and the three HTTP date forms, on 429 and 503 only; nonsense is ignored")
    func retryAfterHeader() throws {
        // Fri, 04 Dec 2026 23:00:00 GMT.
        let now = Date(timeIntervalSince1970: 1_796_425_200)
        #expect(RemoteWriteRetryAfter.wait(status: 429, header: "120", now: now) == .seconds(120))
        #expect(RemoteWriteRetryAfter.wait(status: 503, header: " 0 ", now: now) == .zero)
        #expect(RemoteWriteRetryAfter.wait(status: 503, header: "99999999999999999999", now: now) == .seconds(365 * 86_400))
        #expect(RemoteWriteRetryAfter.wait(status: 503, header: "Fri, 04 Dec 2026 23:00:30 GMT", now: now) == .seconds(30))
        #expect(RemoteWriteRetryAfter.wait(status: 429, header: "Friday, 04-Dec-26 23:01:00 GMT", now: now) == .seconds(60))
        #expect(RemoteWriteRetryAfter.wait(status: 429, header: "Fri Dec  4 23:00:05 2026", now: now) == .seconds(5))
        #expect(RemoteWriteRetryAfter.wait(status: 503, header: "Fri, 04 Dec 2026 22:00:00 GMT", now: now) == .zero, "a past date: no wait")
        // Another status, no header, nonsense: the queue's own backoff.
        #expect(RemoteWriteRetryAfter.wait(status: 500, header: "120", now: now) == nil)
        #expect(RemoteWriteRetryAfter.wait(status: 400, header: "120", now: now) == nil)
        #expect(RemoteWriteRetryAfter.wait(status: 429, header: nil, now: now) == nil)
        for nonsense in ["", "soon", "-5", "1.5", "12 s", "Fri, 32 Dec 2026 23:00:00 GMT", "\u{0663}"] {
            #expect(RemoteWriteRetryAfter.wait(status: 503, header: nonsense, now: now) == nil, "\(nonsense)")
        }
    }

    @Test("configuration: URLs from the file, the environment and flags; credentials from files, never shown")
    func configuration() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-rw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token").path
        try "s3cr3t-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("numbat.json").path
        try """
            {"remote_write": ["http://vm:8428/api/v1/write",
                              {"url": "https://mimir.example/api/v1/push", "bearer_token_file": "\(tokenFile)", "queue_capacity": 5000, "batch_size": 500},
                              {"url": "http://prom:9090/api/v1/write", "basic_auth": {"username": "numbat", "password": "hunter2"}}]}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = try ServerConfiguration.load(file: file, environment: [:], flags: .init())
        #expect(loaded.remoteWrite.map(\.displayURL) == ["http://vm:8428/api/v1/write", "https://mimir.example/api/v1/push", "http://prom:9090/api/v1/write"])
        #expect(loaded.remoteWrite[1].authentication == .bearer(RemoteWriteSecret("s3cr3t-token")))
        #expect(loaded.remoteWrite[1].queue.capacity == 5000 && loaded.remoteWrite[1].queue.batchSize == 500)
        #expect(loaded.remoteWrite[2].authentication.header == "Basic " + Data("numbat:hunter2".utf8).base64EncodedString())
        // Descriptions mask the secrets.
        let shown = "\(loaded.remoteWrite) \(String(reflecting: loaded.remoteWrite))"
        #expect(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "\(shown)")
        // The environment's list replaces the file's; flags replace both.
        let environment = try ServerConfiguration.load(file: file, environment: ["NUMBAT_REMOTE_WRITE": "http://a:1/w, http://b:2/w"], flags: .init())
        #expect(environment.remoteWrite.map(\.displayURL) == ["http://a:1/w", "http://b:2/w"])
        let flagged = try ServerConfiguration.load(file: file, environment: [:], flags: .init(remoteWrite: [.init(url: "http://c:3/w")]))
        #expect(flagged.remoteWrite.map(\.displayURL) == ["http://c:3/w"])
        // Bad settings are refused with the reason, and without the secret.
        let bad: [(String, String)] = [
            (#"{"remote_write": ["ftp://x/w"]}"#, "not an http"),
            (#"{"remote_write": ["http://user:pw@x/w"]}"#, "holds credentials"),
            (#"{"remote_write": [{"url": "http://x/w", "bearer_tokn": "t"}]}"#, "bearer_tokn"),
            (#"{"remote_write": [{"url": "http://x/w", "queue_capacity": 10, "batch_size": 100}]}"#, "capacity"),
            (#"{"remote_write": [{"url": "http://x/w", "bearer_token": "t", "basic_auth": {"username": "u"}}]}"#, "not both"),
            (#"{"remote_write": [{"url": "http://x/w", "bearer_token_file": "/nonexistent/token"}]}"#, "/nonexistent/token"),
        ]
        for (text, reason) in bad {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try ServerConfiguration.load(file: file, environment: [:], flags: .init())
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(reason), "\(text): \(error)")
                #expect(!"\(error)".contains("pw@"), "\(error)")
            }
        }
    }
}
