import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

extension MetricsService {
    struct Catalog: ResponseEncodable {
        var metrics: [MetricDefinition]
    }

    struct IntervalRequest: StrictJSONBody {
        /// Seconds; null returns the node to the global interval.
        var intervalSeconds: Double?
        static let allowedFields: Set<String> = ["interval_seconds"]
        enum CodingKeys: String, CodingKey { case intervalSeconds = "interval_seconds" }

        /// The field is required, null included: `{}` is a 400, not a silent reset to the
        /// global interval.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard container.contains(.intervalSeconds) else {
                throw DecodingError.keyNotFound(CodingKeys.intervalSeconds, .init(codingPath: [], debugDescription: "interval_seconds is required (null for the global interval)"))
            }
            intervalSeconds = try container.decodeIfPresent(Double.self, forKey: .intervalSeconds)
        }
    }

    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("metrics/catalog") { _, _ in Catalog(metrics: MetricCatalog.builtIn) }
        api.get("metrics/nodes/:id") { _, context -> NodeMetricsResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            guard try await self.store.node(id: id) != nil else {
                throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
            }
            return self.nodeMetrics(id)
        }
        api.put("metrics/nodes/:id/interval") { request, context -> NodeMetricsResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            let body = try await request.decodeStrict(as: IntervalRequest.self, context: context)
            guard try await self.store.node(id: id) != nil else {
                throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
            }
            if let seconds = body.intervalSeconds, !(1...86400).contains(seconds) {
                throw NumbatError.badRequest("invalid_field", "interval_seconds must be between 1 and 86400")
            }
            self.setInterval(body.intervalSeconds.map { .milliseconds(Int($0 * 1000)) }, for: id)
            return self.nodeMetrics(id)
        }
        addSeriesRoutes(to: api)
        addTopRoute(to: api)
        addLiveRoute(to: api)
        addRemoteWriteRoute(to: api)
    }

    /// `GET /metrics` for Prometheus: every node's latest values, then the server's own (its
    /// remote write, its process and heap). Registered at the root, not
    /// under `/api`, where scrapers look for it.
    public func addExportRoutes(to router: Router<NumbatRequestContext>) {
        router.get("metrics") { _, _ -> Response in
            let text = try await self.prometheusText()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    func nodeMetrics(_ id: UUID) -> NodeMetricsResponse {
        let snapshot = latestSnapshot(for: id)
        var readings = MetricCatalog.builtIn.map { definition in
            NodeMetricsResponse.Reading(name: definition.name, unit: definition.unit, kind: definition.kind.rawValue, group: definition.group,
                    description: definition.description, value: snapshot?.values[definition.name])
        }
        // Then every Folsom/Exometer metric the node has, as the library named it.
        for (name, value) in (snapshot?.values ?? [:]).sorted(by: { $0.key < $1.key }) where MetricSnapshot.isLibraryMetric(name) {
            let library = String(name.prefix { $0 != "." })
            let kind: MetricDefinition.Kind = name.hasSuffix(".count") ? .counter : .gauge
            readings.append(.init(name: name, unit: "", kind: kind.rawValue, group: library,
                                    description: "\(library) metric", value: value))
        }
        let interval = interval(for: id)
        let histograms = (snapshot?.histograms ?? [:]).mapValues { buckets in
            buckets.map { NodeMetricsResponse.HistogramBucket(upperBound: $0.upperBound, count: $0.count) }
        }
        return NodeMetricsResponse(node: id, source: snapshot?.source.rawValue, collectedAt: snapshot?.time,
                                   intervalSeconds: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18,
                                   metrics: readings, details: snapshot?.details ?? [:], histograms: histograms)
    }

    func prometheusText() async throws -> String {
        // Read before the answer is built: read after, the heap figures counted the answer's
        // own text and the node list behind it (~10 KB per managed node, larger than most of
        // what a node costs the server).
        let footprint = ProcessFootprint.current()
        let nodes = try await store.nodes()
        let families = Dictionary(uniqueKeysWithValues: try await store.families().map { ($0.id, $0.name) })
        let snapshots = latestSnapshots
        let series = nodes.compactMap { node -> PrometheusExposition.Series? in
            guard let snapshot = snapshots[node.id] else { return nil }
            return .init(node: node.name, family: node.familyID.flatMap { families[$0] } ?? "", values: snapshot.values)
        }
        return PrometheusExposition.render(series) + Self.remoteWriteExposition(await remoteWriteStatus())
            + (footprint.map(PrometheusExposition.render) ?? "")
    }
}

extension MetricDefinition: ResponseEncodable {}
extension NodeMetricsResponse: ResponseEncodable {}
