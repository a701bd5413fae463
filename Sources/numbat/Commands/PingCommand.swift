import ArgumentParser
import ErlangDist
import ErlangTerm
import Foundation

/// `numbat ping NODE`: connects as a hidden node and reports round-trip time and OTP release.
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Connect to a node and print its round-trip time and OTP release.")

    @Argument(help: "The node, e.g. app@127.0.0.1 or app@host; app@host:9100 for a node without EPMD.")
    var node: String

    @Option(name: .shortAndLong, help: "Round trips to measure.")
    var count: Int = 3

    @OptionGroup var options: DistributionOptions

    func run() async throws {
        let tls = try options.tls()
        let local = try options.makeNode()
        do {
            let peer = try options.peer(node, on: local, tls: tls)
            let connectStart = ContinuousClock.now
            try await local.connect(to: peer)
            let connectTime = ContinuousClock.now - connectStart
            var rounds: [Duration] = []
            for _ in 0..<max(1, count) {
                let start = ContinuousClock.now
                _ = try await local.rpc(peer, "erlang", "node", timeout: options.timeoutDuration)
                rounds.append(ContinuousClock.now - start)
            }
            let release = try await local.rpc(peer, "erlang", "system_info", [.atom("otp_release")], timeout: options.timeoutDuration)
            let erts = try await local.rpc(peer, "erlang", "system_info", [.atom("version")], timeout: options.timeoutDuration)
            let best = rounds.min()!
            let average = rounds.reduce(Duration.zero, +) / rounds.count
            print("pong from \(peer): OTP \(release.stringValue ?? release.description) (erts \(erts.stringValue ?? erts.description)); "
                + "connect \(Self.format(connectTime)), rtt min \(Self.format(best)) avg \(Self.format(average)) over \(rounds.count)")
            await local.shutdown()
        } catch {
            await local.shutdown()
            throw fail(error)
        }
    }

    static func format(_ duration: Duration) -> String {
        let micros = Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        return micros >= 1000 ? String(format: "%.2f ms", micros / 1000) : String(format: "%.0f µs", micros)
    }
}
