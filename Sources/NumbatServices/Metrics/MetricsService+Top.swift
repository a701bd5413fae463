import Foundation
import Hummingbird
import NumbatCore

/// `GET /api/metrics/top`: the busiest nodes by a few metrics' latest values, for the
/// dashboard's overview. From the snapshots in memory, so it costs no store query however many
/// nodes there are.
extension MetricsService {
    struct TopDocument: ResponseEncodable {
        struct Entry: Encodable {
            var node: UUID
            var nodeName: String
            var value: Double
            var collectedAt: Date

            enum CodingKeys: String, CodingKey {
                case node, value
                case nodeName = "node_name"
                case collectedAt = "collected_at"
            }
        }

        /// One metric's nodes, highest value first.
        struct Ranking: Encodable {
            var metric: String
            var unit: String?
            var description: String?
            var nodes: [Entry]
        }

        var rankings: [Ranking]
    }

    /// What "busy" means when the caller does not say: CPU (scheduler utilisation), memory,
    /// the longest message queue and the run queue.
    static let defaultTopMetrics = ["scheduler_utilization", "memory_total", "message_queue_max", "run_queue"]

    func addTopRoute(to api: RouterGroup<NumbatRequestContext>) {
        api.get("metrics/top") { request, _ -> TopDocument in
            let query = request.uri.queryParameters
            let metrics = try query["metrics"].map { try Self.metricNames(String($0), atMost: 20) } ?? Self.defaultTopMetrics
            let limit = try query["limit"].map { text -> Int in
                guard let limit = Int(text), (1...100).contains(limit) else {
                    throw NumbatError.badRequest("invalid_limit", "limit must be a number from 1 to 100")
                }
                return limit
            } ?? 5
            try self.requireKnown(metrics)
            return try await self.top(metrics: metrics, limit: limit)
        }
    }

    func top(metrics: [String], limit: Int) async throws -> TopDocument {
        let names = Dictionary(uniqueKeysWithValues: try await store.nodes().map { ($0.id, $0.name) })
        // Only managed nodes: a snapshot may outlive its node by a moment.
        let snapshots = latestSnapshots.filter { names[$0.key] != nil }
        return TopDocument(rankings: metrics.map { metric in
            let entries = snapshots.compactMap { id, snapshot -> TopDocument.Entry? in
                guard let value = snapshot.values[metric], value.isFinite else { return nil }
                return TopDocument.Entry(node: id, nodeName: names[id] ?? "", value: value, collectedAt: snapshot.time)
            }
            let ranked = entries.sorted { ($0.value, $1.nodeName) > ($1.value, $0.nodeName) }
            let definition = MetricCatalog.byName[metric]
            return TopDocument.Ranking(metric: metric, unit: definition?.unit, description: definition?.description,
                                       nodes: Array(ranked.prefix(limit)))
        })
    }
}
