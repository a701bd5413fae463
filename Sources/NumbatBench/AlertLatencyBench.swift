import ErlangDist
import ErlangTerm
import Foundation
import NumbatTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `numbat-bench --only alert-latency`: how long an alarm set on a node takes to reach a
/// webhook through Numbat (SASL's alarm_handler -> the alarm agent -> Numbat's alarms service ->
/// store -> alert queue -> signed HTTP POST), timed from the bench's rpc that sets it to the
/// receiver reading the request. The receiver is a plain HTTP/1.1 listener on loopback in this
/// process, so its own cost is a socket read.
struct AlertLatencyBench {
    var alarms: Int
    /// The pause between alarms (each is cleared before the next).
    var spacing: Duration = .milliseconds(100)

    func run() async throws -> [Double] {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let target = try await startNode(.otp25, cookie: cookie, alive: "nbalert\(getpid())")
        defer { Task { await NodeReaper.shared.stop(target) } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try HookListener()
        defer { receiver.close() }
        let serve = try await ServeProcess.start(directory: directory, nodeName: "numbatalert\(getpid())")
        defer { serve.terminate() }
        let made = try await serve.post("/api/alerts/receivers", json: try JSONSerialization.data(withJSONObject: [
            "name": "bench", "kind": "webhook", "url": "http://127.0.0.1:\(receiver.port)/hook", "secret": "bench-key"]), timeout: 60)
        guard let receiverID = (try JSONSerialization.jsonObject(with: made) as? [String: Any])?["id"] as? String else {
            throw BenchFailure(description: "no receiver made: \(String(decoding: made, as: UTF8.self))")
        }
        _ = try await serve.post("/api/alerts/rules", json: try JSONSerialization.data(withJSONObject: [
            "name": "bench", "keys": ["sasl:numbat_lat_*"], "events": ["raised"], "receivers": [receiverID]]), timeout: 60)
        _ = try await serve.post("/api/actions/add-node", ["node": target.name.description, "cookie": cookie])
        let local = try LocalNode(.init(name: "nbalertprobe\(getpid())", cookie: cookie))
        defer { Task { await local.shutdown() } }
        _ = try await local.rpc(target.name, "application", "ensure_all_started", [.atom("sasl")])
        // The alarm agent is in place once a first alarm goes through.
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await local.rpc(target.name, "alarm_handler", "set_alarm", [.tuple([.atom("numbat_lat_warmup"), .list([])])])
        while receiver.arrival(of: "numbat_lat_warmup") == nil {
            guard clock.now - started < .seconds(60) else { throw BenchFailure(description: "the first alert never arrived") }
            try await Task.sleep(for: .milliseconds(5))
        }

        var latencies: [Double] = []
        for index in 0..<alarms {
            try await Task.sleep(for: spacing)
            let name = "numbat_lat_\(index)"
            let sent = clock.now
            _ = try await local.rpc(target.name, "alarm_handler", "set_alarm", [.tuple([.atom(Atom(name)), .list([])])])
            let deadline = sent + .seconds(10)
            while receiver.arrival(of: name) == nil {
                guard clock.now < deadline else { throw BenchFailure(description: "alarm \(index) never reached the webhook") }
                try await Task.sleep(for: .microseconds(200))
            }
            latencies.append(milliseconds(receiver.arrival(of: name)! - sent))
            _ = try await local.rpc(target.name, "alarm_handler", "clear_alarm", [.atom(Atom(name))])
        }
        return latencies
    }

    private func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}

/// A minimal HTTP/1.1 listener on loopback: reads each request whole (headers and
/// Content-Length body), records when the request naming `sasl:KEY` arrived, answers 200 and
/// closes. One thread; requests are few and small.
private final class HookListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var arrivals: [String: ContinuousClock.Instant] = [:]

    init() throws {
        let socket = Socket4.bind(host: "127.0.0.1")
        guard socket.port != 0, listen(socket.fd, 64) == 0 else { throw BenchFailure(description: "cannot listen for the webhook") }
        fd = socket.fd
        port = socket.port
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    func arrival(of key: String) -> ContinuousClock.Instant? { lock.withLock { arrivals[key] } }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd) }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            var expected: Int?
            while true {
                let count = read(client, &buffer, buffer.count)
                guard count > 0 else { break }
                data += buffer[0..<count]
                if expected == nil, let end = Self.headerEnd(data) {
                    let headers = String(decoding: data[0..<end], as: UTF8.self).lowercased()
                    let length = headers.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    expected = end + 4 + length
                }
                if let expected, data.count >= expected { break }
            }
            let now = ContinuousClock.now
            let text = String(decoding: data, as: UTF8.self)
            if let range = text.range(of: #""key":"sasl:"#) {
                let key = String(text[range.upperBound...].prefix { $0 != "\"" })
                lock.withLock { if arrivals[key] == nil { arrivals[key] = now } }
            }
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
            _ = write(client, answer, answer.count)
            Glibc.close(client)
        }
    }

    private static func headerEnd(_ data: [UInt8]) -> Int? {
        guard data.count >= 4 else { return nil }
        for index in 0...(data.count - 4) where data[index] == 13 && data[index + 1] == 10 && data[index + 2] == 13 && data[index + 3] == 10 {
            return index
        }
        return nil
    }
}
