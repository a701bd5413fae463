import ErlangDist
import ErlangTerm

/// One-way messages to `numbat_bench_counter` on the target, timed until the counter has
/// received them all (delivered throughput), plus the time the sender took to hand them over.
struct SendResult: Sendable {
    var messages: Int
    /// Until the last message was handed to the send API.
    var senderSeconds: Double
    /// Until the counter reported that it had received all of them.
    var deliveredSeconds: Double

    var deliveredRate: Double { Double(messages) / deliveredSeconds }
    var senderRate: Double { Double(messages) / senderSeconds }
}

enum SendBench {
    static let counter: Atom = "numbat_bench_counter"

    /// `{bench, I, Payload}`, the message both sides send.
    static func payload(bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    /// Starts (or restarts) the counting process on the target.
    static func startCounter(_ local: LocalNode, on target: NodeName) async throws {
        _ = try await local.rpc(target, "numbat_bench", "counter_start")
    }

    /// Swift: `Mailbox.send(_:to:on:)` (REG_SEND) in a loop, then waits for `{counted, N}`.
    static func swift(_ local: LocalNode, target: NodeName, messages: Int, payload: [UInt8]) async throws -> SendResult {
        let mailbox = try local.makeMailbox()
        defer { mailbox.close() }
        try await mailbox.send(.tuple([.atom("reset"), .integer(messages), .pid(mailbox.pid(for: target))]), to: counter, on: target)
        let start = monotonicNanos()
        var index = messages
        while index > 0 {
            try await mailbox.send(.tuple([.atom("bench"), .integer(index), .binary(payload)]), to: counter, on: target)
            index -= 1
        }
        let sent = monotonicNanos()
        while true {
            let message = try await mailbox.receive(timeout: .seconds(300))
            if case .message(.tuple(let parts), _) = message, parts.count == 2, parts[0] == .atom("counted") { break }
        }
        let delivered = monotonicNanos()
        return SendResult(messages: messages, senderSeconds: Double(sent - start) / 1e9, deliveredSeconds: Double(delivered - start) / 1e9)
    }

    /// The Erlang hidden node `driver` sending the same messages (numbat_bench:send_run/3).
    static func erlang(_ local: LocalNode, driver: NodeName, target: NodeName, messages: Int, payload: [UInt8]) async throws -> SendResult {
        let reply = try await local.rpc(driver, "numbat_bench", "send_run",
                                        [.atom(target.atom), .integer(messages), .binary(payload)],
                                        timeout: .seconds(300))
        guard case .tuple(let parts) = reply, parts.count == 2, let sender = parts[0].intValue, let delivered = parts[1].intValue else {
            throw BenchError.unexpected("numbat_bench:send_run returned \(reply)")
        }
        return SendResult(messages: messages, senderSeconds: Double(sender) / 1e6, deliveredSeconds: Double(delivered) / 1e6)
    }
}
