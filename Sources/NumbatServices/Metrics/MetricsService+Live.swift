import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

/// `GET /api/metrics/live?node=ID&metrics=a,b` (WebSocket): the node's metrics every second
/// while the socket is open, as `{"type": "live", "node", "t", "values": {...}}` (or `"error"`
/// for a second without values). No `metrics` means all of them; the client may send
/// `{"metrics": [...]}` to change the set.
extension MetricsService {
    struct LiveRequest: Decodable {
        var metrics: [String]
    }

    /// Times to the millisecond: samples are a second apart on schedule, but one delayed by a
    /// slow call and the next on time may fall in the same second, and whole seconds showed
    /// them as one instant (or out of order).
    static let liveEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(format))
        }
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    func addLiveRoute(to api: RouterGroup<NumbatRequestContext>) {
        api.ws("metrics/live") { request, context in
            guard context.identity != nil else { return .dontUpgrade }
            _ = try await self.liveTarget(request)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let (node, metrics) = try await self.liveTarget(context.request)
            let wanted = NIOLockedValueBox(metrics)
            let (viewer, samples) = self.live.watch(node)
            defer { self.live.unwatch(node, viewer: viewer) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 64 << 10) {
                        guard case .text(let text) = message else { continue }
                        if let request = try? JSONDecoder().decode(LiveRequest.self, from: Data(text.utf8)) {
                            wanted.withLockedValue { $0 = Set(request.metrics) }
                        } else {
                            try await outbound.write(.text(#"{"type":"error","message":"expected {\"metrics\": [\"name\", ...]}"}"#))
                        }
                    }
                }
                group.addTask {
                    for await sample in samples {
                        let names = wanted.withLockedValue { $0 }
                        let values = names.isEmpty ? sample.values : sample.values.filter { names.contains($0.key) }
                        let message = LiveMetricsSample(node: node, t: sample.time, values: values, error: sample.error)
                        try await outbound.write(.text(String(decoding: try Self.liveEncoder.encode(message), as: UTF8.self)))
                    }
                }
                // The client leaving (or the server stopping) ends the watch.
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// The node and metrics a live request names; 400/404 when they are wrong.
    func liveTarget(_ request: Request) async throws -> (UUID, Set<String>) {
        let query = request.uri.queryParameters
        guard let text = query["node"].map(String.init), let id = UUID(uuidString: text) else {
            throw NumbatError.badRequest("invalid_node", "node must be a managed node's id")
        }
        guard try await store.node(id: id) != nil else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        let metrics = (query["metrics"].map(String.init) ?? "").split(separator: ",").map(String.init)
        return (id, Set(metrics))
    }
}
