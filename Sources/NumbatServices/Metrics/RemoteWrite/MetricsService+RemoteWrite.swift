import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `GET /api/metrics/remote-write`, and the same counters in the server's own `/metrics`
/// export (`numbat_remote_write_*{receiver="URL"}`), so the store being written to can alert
/// on its own feed.
extension MetricsService {
    func addRemoteWriteRoute(to api: RouterGroup<NumbatRequestContext>) {
        api.get("metrics/remote-write") { _, _ -> RemoteWriteStatusResponse in
            await self.remoteWriteStatus()
        }
    }

    /// Every receiver's queue and counters; none when remote write is not configured.
    public func remoteWriteStatus() async -> RemoteWriteStatusResponse {
        await remoteWrite?.status() ?? RemoteWriteStatusResponse(receivers: [])
    }

    /// Queues a stored collection for the receivers, labelled with the node's name and family.
    func remoteWrite(_ snapshot: MetricSnapshot, for node: ManagedNode) async {
        guard let remoteWrite else { return }
        var family = ""
        if let id = node.familyID { family = (try? await store.family(id: id))?.name ?? "" }
        await remoteWrite.append(node: node.id, name: node.name, family: family, time: snapshot.time, values: snapshot.values.dictionary)
    }

    /// The server's own remote-write metrics in the text exposition format (empty without receivers).
    static func remoteWriteExposition(_ status: RemoteWriteStatusResponse) -> String {
        guard !status.receivers.isEmpty else { return "" }
        let families: [(name: String, type: String, help: String, value: (RemoteWriteStatusResponse.Receiver) -> Int)] = [
            ("numbat_remote_write_samples_sent_total", "counter", "Samples a remote-write receiver accepted", \.sentSamples),
            ("numbat_remote_write_batches_sent_total", "counter", "Requests a remote-write receiver accepted", \.sentBatches),
            ("numbat_remote_write_batches_failed_total", "counter", "Remote-write requests that failed (retried, or dropped on a 4xx)", \.failedBatches),
            ("numbat_remote_write_samples_dropped_total", "counter", "Samples dropped unsent because the remote-write queue was full", \.droppedSamples),
            ("numbat_remote_write_samples_rejected_total", "counter", "Samples a remote-write receiver refused with a 4xx", \.rejectedSamples),
            ("numbat_remote_write_queue_samples", "gauge", "Samples queued for a remote-write receiver", \.queuedSamples),
            ("numbat_remote_write_queue_capacity_samples", "gauge", "Most samples queued for a remote-write receiver", \.queueCapacity),
        ]
        var output = ""
        for family in families {
            output += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for receiver in status.receivers {
                output += "\(family.name){receiver=\"\(PrometheusExposition.escapeLabel(receiver.url))\"} \(family.value(receiver))\n"
            }
        }
        return output
    }
}

extension RemoteWriteStatusResponse: ResponseEncodable {}
