import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NumbatServices
import NumbatTestSupport
import Testing

/// The sender's I/O shell with a receiver that throttles: a real HTTP server answering the
/// statuses and `Retry-After` values given, in turn (then 204), the time of each request kept.
/// The pure decisions are `RemoteWriteQueueTests` and `RemoteWriteSamplesTests`; this shows the
/// header is read off a real response and the wait really held.
@Suite("remote write: a receiver's Retry-After")
struct RemoteWriteRetryAfterTests {
    @Test("503 with Retry-After: 2 and 429 with an HTTP date 3 s ahead hold the retry that long (the backoff alone: 0.2 s); a 400 is dropped, counted, not retried")
    func honoured() async throws {
        let receiver = ThrottlingReceiver(port: try freePort(onAll: ["127.0.0.1"]),
                                          answers: [(503, { _ in "2" }), (429, { now in ThrottlingReceiver.httpDate(now.addingTimeInterval(3)) }), (204, nil),
                                                    (400, { _ in "30" }), (204, nil)])
        try await receiver.start()
        let remote = RemoteWrite(settings: [RemoteWriteTests.receiver("http://127.0.0.1:\(receiver.port)/api/v1/write", batchSize: 4)],
                                 logger: Logger(label: "remote-write-test"))
        await remote.start()
        let series = RemoteWriteSeries(labels: [RemoteWriteLabel("__name__", "numbat_retry_after_test")])
        let samples = { (range: Range<Int>) in range.map { RemoteWriteSample(series: series, timestamp: 1_800_000_000_000 + Int64($0), value: Double($0)) } }

        await remote.append(samples(0..<4))
        // While backing off after the 503: the wait the receiver asked for, not the 0.2 s backoff.
        var retryIn: Double?
        _ = await eventually(within: .seconds(10)) {
            retryIn = await remote.status().receivers.first?.retryInSeconds
            return retryIn != nil
        }
        #expect((retryIn ?? 0) > 1, "retry_in_seconds \(String(describing: retryIn))")
        let delivered = await eventually(within: .seconds(60)) { receiver.times.count >= 3 }
        #expect(delivered, "\(receiver.times.count) requests")
        let times = receiver.times
        if times.count >= 3 {
            #expect(times[1] - times[0] >= .milliseconds(1900), "after Retry-After: 2, \(times[1] - times[0])")
            // An HTTP date has whole seconds: 3 s ahead is more than 2 s away.
            #expect(times[2] - times[1] >= .milliseconds(1900), "after an HTTP date 3 s ahead, \(times[2] - times[1])")
        }

        // A 400 (with a Retry-After it must not heed): dropped and counted; the next batch goes.
        await remote.append(samples(4..<8))
        _ = await eventually(within: .seconds(30)) { await remote.status().receivers.first?.rejectedSamples == 4 }
        await remote.append(samples(8..<12))
        _ = await eventually(within: .seconds(30)) { await remote.status().receivers.first?.sentSamples == 8 }
        let status = try #require(await remote.status().receivers.first)
        #expect(status.sentSamples == 8 && status.rejectedSamples == 4 && status.failedBatches == 3, "\(status)")
        #expect(receiver.times.count == 5, "the 400's batch was retried: \(receiver.times.count) requests")
        await remote.stop()
        await receiver.stop()
    }
}

/// A remote-write receiver that throttles: the n-th request gets the n-th answer (a status and
/// a `Retry-After` made from the time of the request), then 204s.
final class ThrottlingReceiver: Sendable {
    typealias Answer = (status: Int, retryAfter: (@Sendable (Date) -> String)?)
    var port: Int { http.port }
    private let http: LoopbackHTTPServer
    private let answers: [Answer]
    private let received = NIOLockedValueBox<[ContinuousClock.Instant]>([])

    init(port: Int, answers: [Answer]) {
        http = LoopbackHTTPServer(port: port)
        self.answers = answers
    }

    /// When each request came.
    var times: [ContinuousClock.Instant] { received.withLockedValue { $0 } }

    func start() async throws {
        let router = Router()
        router.post("**") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 22)
            let index = self.received.withLockedValue { times -> Int in
                times.append(.now)
                return times.count - 1
            }
            let answer: Answer = index < self.answers.count ? self.answers[index] : (204, nil)
            var headers = HTTPFields()
            if let retryAfter = answer.retryAfter { headers[.retryAfter] = retryAfter(Date()) }
            return Response(status: .init(code: answer.status), headers: headers)
        }
        await http.start(router, label: "throttling-receiver")
    }

    func stop() async {
        await http.stop()
    }

    /// IMF-fixdate, as HTTP servers write it.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
