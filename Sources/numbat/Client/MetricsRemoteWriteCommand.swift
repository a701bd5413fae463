import ArgumentParser
import Foundation
import NumbatAPI

extension MetricsCommand {
    /// `numbat metrics remote-write`: each remote-write receiver's queue and counters.
    struct RemoteWrite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remote-write",
            abstract: "Each Prometheus remote-write receiver: queued, sent, failed, dropped and refused samples.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let reply = try await client.client().call("GET", "/api/metrics/remote-write", as: RemoteWriteStatusResponse.self)
                if client.json { return try printJSON(reply.data) }
                guard !reply.value.receivers.isEmpty else {
                    print("remote write is not configured (numbat serve --remote-write URL)")
                    return
                }
                printTable(["RECEIVER", "AUTH", "QUEUED", "SENT", "FAILED BATCHES", "DROPPED", "REFUSED", "LAST ERROR"],
                           reply.value.receivers.map { receiver in
                               [receiver.url, receiver.authentication, "\(receiver.queuedSamples)/\(receiver.queueCapacity)",
                                "\(receiver.sentSamples)", "\(receiver.failedBatches)", "\(receiver.droppedSamples)",
                                "\(receiver.rejectedSamples)", receiver.lastError ?? "-"]
                           })
            }
        }
    }
}
