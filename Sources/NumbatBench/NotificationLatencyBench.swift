import ErlangDist
import ErlangTerm
import Foundation
import NumbatCore
import NumbatTestSupport

/// `numbat-bench --only notification-latency`: how long a `logger:error` on a node takes to
/// reach an operator's terminal through Numbat (node's logger handler -> agent batch -> Numbat
/// -> store -> WebSocket -> `numbat logs --follow`), against the floor in the same run: the same
/// node sending one distribution message straight to the benchmark's hidden node. Both are
/// timed from the bench's rpc that triggers them, so the rpc's own cost is in both.
struct NotificationLatencyBench {
    var events: Int
    /// The pause between events: the agent sends the first event after a quiet spell at once.
    var spacing: Duration = .milliseconds(150)

    func run() async throws -> (numbat: [Double], reference: [Double]) {
        let cookie = "numbat-bench-\(UInt32.random(in: 0...UInt32.max))"
        let target = try await startNode(.otp25, cookie: cookie, alive: "nblatency\(getpid())")
        defer { Task { await NodeReaper.shared.stop(target) } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-bench-\(UUID().uuidString)")
        NodeReaper.shared.adoptDirectory(directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let serve = try await ServeProcess.start(directory: directory, nodeName: "numbatlatency\(getpid())")
        defer { serve.terminate() }
        _ = try await serve.post("/api/actions/add-node", ["node": target.name.description, "cookie": cookie])
        let local = try LocalNode(.init(name: "nblatencyprobe\(getpid())", cookie: cookie))
        defer { Task { await local.shutdown() } }
        let clock = ContinuousClock()
        let installed = clock.now
        while try await local.rpc(target.name, "logger", "get_handler_ids").listElements?.contains(.atom("numbat_notifier")) != true {
            guard clock.now - installed < .seconds(30) else { throw BenchFailure(description: "the log agent did not start") }
            try await Task.sleep(for: .milliseconds(20))
        }

        // The operator's terminal: numbat logs --follow, each line's arrival timed as it comes.
        let arrivals = Arrivals()
        let logs = Subprocess()
        logs.executableURL = serve.process.executableURL
        logs.arguments = ["logs", "--follow", "--json", "--limit", "1", "--server", serve.url]
        let output = Pipe()
        logs.standardOutput = output
        logs.standardError = output
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { arrivals.record(data, at: clock.now) }
        }
        try logs.run()
        defer { logs.terminate(); logs.waitUntilExit() }
        try await Task.sleep(for: .seconds(1))  // the CLI's WebSocket subscribes

        var numbat: [Double] = []
        for index in 0..<events {
            try await Task.sleep(for: spacing)
            let sent = clock.now
            _ = try await local.rpc(target.name, "logger", "error", [.string("numbat-latency ~b"), .list([.integer(index)])])
            let deadline = sent + .seconds(10)
            while arrivals.time(of: index) == nil {
                guard clock.now < deadline else { throw BenchFailure(description: "event \(index) never reached numbat logs: \(arrivals.text.suffix(1000))") }
                try await Task.sleep(for: .milliseconds(1))
            }
            numbat.append(milliseconds(arrivals.time(of: index)! - sent))
        }

        // The floor: the node sends one message straight to a mailbox of the bench's node.
        let mailbox = try local.makeMailbox()
        var messages = mailbox.makeAsyncIterator()
        var reference: [Double] = []
        for index in 0..<events {
            try await Task.sleep(for: spacing)
            let sent = clock.now
            _ = try await local.rpc(target.name, "erlang", "send", [.pid(mailbox.pid(for: target.name)), .tuple([.atom("lat"), .integer(index)])])
            _ = await messages.next()
            reference.append(milliseconds(clock.now - sent))
        }
        return (numbat, reference)
    }

    private func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}

/// When each `numbat-latency N` line arrived.
private final class Arrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = ""
    private var times: [Int: ContinuousClock.Instant] = [:]

    func record(_ data: Data, at time: ContinuousClock.Instant) {
        lock.withLock {
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                if let range = line.range(of: "numbat-latency ") {
                    let digits = line[range.upperBound...].prefix { $0.isNumber }
                    if let index = Int(digits), times[index] == nil { times[index] = time }
                }
                pending = String(pending[pending.index(after: newline)...])
            }
        }
    }

    var text: String { lock.withLock { pending } }

    func time(of index: Int) -> ContinuousClock.Instant? { lock.withLock { times[index] } }
}
