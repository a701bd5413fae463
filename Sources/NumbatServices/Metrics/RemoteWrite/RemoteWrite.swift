import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatAPI

/// Prometheus remote write of every collection to the receivers operators run (Mimir, Thanos,
/// VictoriaMetrics, Prometheus): a queue and a sender per receiver (`RemoteWriteEndpoint`), fed
/// by the metrics service with each collection as it is stored. Numbat's own history stays the
/// default and is written either way.
public final class RemoteWrite: Sendable {
    let endpoints: [RemoteWriteEndpoint]
    private let converter = NIOLockedValueBox(RemoteWriteSamples())

    public init(settings: [RemoteWriteSettings], logger: Logger) {
        endpoints = settings.map { RemoteWriteEndpoint(settings: $0, logger: logger) }
    }

    public func start() async {
        for endpoint in endpoints { await endpoint.start() }
    }

    /// Stops every receiver's sender, each after sending what it can within a few seconds
    /// (together, so a slow receiver does not hold up the others).
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for endpoint in endpoints { group.addTask { await endpoint.stop() } }
        }
    }

    /// Queues one collection of one node on every receiver.
    public func append(node id: UUID, name: String, family: String, time: Date, values: [String: Double]) async {
        let samples = converter.withLockedValue { $0.samples(node: id, name: name, family: family, time: time, values: values) }
        await append(samples)
    }

    /// Queues samples on every receiver.
    public func append(_ samples: [RemoteWriteSample]) async {
        guard !samples.isEmpty else { return }
        for endpoint in endpoints { await endpoint.enqueue(samples) }
    }

    func forget(node id: UUID) {
        converter.withLockedValue { $0.forget(node: id) }
    }

    /// Every receiver's queue and counters.
    public func status() async -> RemoteWriteStatusResponse {
        var receivers: [RemoteWriteStatusResponse.Receiver] = []
        for endpoint in endpoints { receivers.append(await endpoint.status().response) }
        return RemoteWriteStatusResponse(receivers: receivers)
    }
}
