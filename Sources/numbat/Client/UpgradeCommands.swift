import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore
import HummingbirdWSClient

/// `numbat upgrade start FAMILY RELEASE [--batch N]` and `numbat upgrade show ID`: rolling
/// upgrades (docs/orchestration.md).
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upgrade", abstract: "Roll a new release over a deployed family.",
                                                    subcommands: [Start.self, Show.self])

    /// Starts the upgrade and prints every node's phase (from the WebSocket's `deployment`
    /// topic, subscribed before the request) until it succeeds (exit 0) or fails (exit 1).
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Roll RELEASE over FAMILY's nodes, a batch at a time, and follow it.")
        @Argument(help: "The family's id.") var family: String
        @Argument(help: "The release's id (the same release name as the nodes run, another version).") var release: String
        @Option(help: "Nodes switched at once.") var batch: Int = 1
        @Option(help: "Give up waiting after this many seconds (the upgrade goes on).") var timeout: Double = 1800
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                guard let releaseID = UUID(uuidString: release) else { throw ValidationError("RELEASE is a release id, not '\(release)'") }
                let api = client.client()
                let request = StartUpgradeRequest(release: releaseID, batch: batch)
                let (family, timeout, json) = (family, timeout, client.json)
                let ended = try await Deadline.run(seconds: timeout) {
                    try await Self.follow(api: api, family: family, request: request, json: json)
                }
                guard let ended else {
                    throw APIClient.Failure(description: "the upgrade did not finish within \(Int(timeout)) s (it goes on; see numbat upgrade show)")
                }
                let upgrade = try await api.call("GET", "/api/orch/upgrades/\(ended.uuidString.lowercased())", as: UpgradeResponse.self).value
                if !json { UpgradeCommand.summary(upgrade) }
                if upgrade.state != "succeeded" { throw ExitCode(1) }
            }
        }

        /// Subscribes, starts the upgrade, prints its events until it ends; returns its id.
        static func follow(api: APIClient, family: String, request: StartUpgradeRequest, json: Bool) async throws -> UUID {
            let subscription = try APICoding.encoder().encode(SubscribeRequest(topics: ["deployment"]))
            let id = NIOLockedValueBox<UUID?>(nil)
            try await WebSocketClient.connect(url: api.webSocketURL("/api/ws"), logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
                try await outbound.write(.text(String(decoding: subscription, as: UTF8.self)))
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                while let message = try await messages.next() {
                    guard case .text(let text) = message, let event = DeployCommand.event(text) else { continue }
                    if event.type == "subscribed" { break }
                }
                let started = try await api.call("POST", "/api/orch/node_families/\(family)/upgrades", body: request, as: UpgradeResponse.self).value
                if !json { print("upgrade \(started.id.uuidString.lowercased()): \(started.nodes.count) nodes to \(started.version), \(started.batch) at a time") }
                while let message = try await messages.next() {
                    guard case .text(let text) = message, let progress = DeployCommand.event(text)?.upgrade, progress.upgradeID == started.id else { continue }
                    if json {
                        print(String(decoding: (try? APICoding.encoder().encode(progress)) ?? Data(), as: UTF8.self))
                    } else if let node = progress.nodeID {
                        print("\(progress.nodeName ?? node.uuidString.lowercased())  \(progress.phase)\(progress.message.map { ": \($0)" } ?? "")")
                    }
                    fflush(nil)
                    if progress.nodeID == nil, progress.phase != "running" { break }
                }
                id.withLockedValue { $0 = started.id }
                try await outbound.close(.normalClosure, reason: nil)
            }
            guard let ended = id.withLockedValue({ $0 }) else {
                throw APIClient.Failure(description: "the server closed the event stream before the upgrade finished")
            }
            return ended
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a rolling upgrade: its state and every node's phase.")
        @Argument(help: "The upgrade's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let upgrade = try await client.client().call("GET", "/api/orch/upgrades/\(id)", as: UpgradeResponse.self)
                if client.json { return try printJSON(upgrade.data) }
                UpgradeCommand.summary(upgrade.value)
            }
        }
    }

    static func summary(_ upgrade: UpgradeResponse) {
        print("upgrade \(upgrade.id.uuidString.lowercased()) to \(upgrade.version): \(upgrade.state)\(upgrade.reason.map { " (\($0))" } ?? "")")
        for node in upgrade.nodes {
            let how = node.method.map { " [\($0)]" } ?? ""
            print("  \(node.name ?? node.id.uuidString.lowercased())  batch \(node.batch + 1)  \(node.phase)\(how)\(node.message.map { ": \($0)" } ?? "")")
        }
    }
}
