import Foundation
import Hummingbird
import NumbatCore

/// `GET /api/metrics/nodes/{id}/series` and `GET /api/metrics/families/{id}/series`: the stored
/// history, from the finest tier that still covers the range.
extension MetricsService {
    struct SeriesDocument: ResponseEncodable {
        struct Point: Encodable {
            /// RFC 3339 with milliseconds: points may be closer than a second (live, or a
            /// collection repeated at reconnection).
            var t: String
            var v: Double
            var min: Double?
            var max: Double?

            init(_ point: MetricPoint) {
                t = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(point.time)
                v = point.value
                min = point.minimum
                max = point.maximum
            }
        }

        struct Series: Encodable {
            var node: UUID
            var nodeName: String
            var metric: String
            var unit: String?
            var points: [Point]

            enum CodingKeys: String, CodingKey {
                case node, metric, unit, points
                case nodeName = "node_name"
            }
        }

        var from: Date
        var to: Date
        var resolutionSeconds: Int
        var stepSeconds: Int?
        var series: [Series]

        enum CodingKeys: String, CodingKey {
            case from, to, series
            case resolutionSeconds = "resolution_seconds"
            case stepSeconds = "step_seconds"
        }
    }

    /// The range of a series request: `from` and `to` as RFC 3339 times, Unix seconds, or a
    /// duration ago (`1h`, `30m`); `step` in seconds or as a duration. Defaults: the last hour.
    struct SeriesRange {
        var from: Date
        var to: Date
        var stepSeconds: Int?

        init(_ query: (String) -> String?, now: Date) throws {
            to = try Self.time(query("to"), name: "to", now: now) ?? now
            from = try Self.time(query("from"), name: "from", now: now) ?? to.addingTimeInterval(-3600)
            guard from <= to else { throw NumbatError.badRequest("invalid_range", "from must not be after to") }
            if let text = query("step") {
                let seconds = Int(text) ?? (try? RetentionSchedule.seconds(text))
                guard let seconds, seconds > 0 else {
                    throw NumbatError.badRequest("invalid_step", "step must be a number of seconds or a duration such as 5m")
                }
                stepSeconds = seconds
            }
        }

        static func time(_ text: String?, name: String, now: Date) throws -> Date? {
            guard let text, !text.isEmpty else { return nil }
            if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
            if let ago = try? RetentionSchedule.seconds(text.hasPrefix("-") ? String(text.dropFirst()) : text) {
                return now.addingTimeInterval(-Double(ago))
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime]
            if let date = formatter.date(from: text) { return date }
            throw NumbatError.badRequest("invalid_time", "\(name) must be an RFC 3339 time, Unix seconds or a duration ago such as 1h")
        }
    }

    func addSeriesRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("metrics/nodes/:id/series") { request, context -> SeriesDocument in
            let id = try context.parameters.require("id", as: UUID.self)
            guard let node = try await self.store.node(id: id) else {
                throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
            }
            let query = request.uri.queryParameters
            let metrics = (query["metrics"].map(String.init) ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !metrics.isEmpty, metrics.count <= 50 else {
                throw NumbatError.badRequest("invalid_metrics", "metrics must name 1 to 50 metrics, comma-separated")
            }
            let range = try SeriesRange({ query[Substring($0)].map(String.init) }, now: self.archive.now())
            return try await self.seriesDocument(nodes: [node], metrics: metrics, range: range)
        }
        api.get("metrics/families/:id/series") { request, context -> SeriesDocument in
            let id = try context.parameters.require("id", as: UUID.self)
            guard try await self.store.family(id: id) != nil else {
                throw NumbatError.notFound("family_not_found", "no node family has id \(id.uuidString.lowercased())")
            }
            let query = request.uri.queryParameters
            guard let metric = query["metric"].map(String.init), !metric.isEmpty else {
                throw NumbatError.badRequest("invalid_metrics", "metric must name one metric")
            }
            let members = try await self.store.nodes().filter { $0.familyID == id }
            let range = try SeriesRange({ query[Substring($0)].map(String.init) }, now: self.archive.now())
            return try await self.seriesDocument(nodes: members, metrics: [metric], range: range)
        }
    }

    func seriesDocument(nodes: [ManagedNode], metrics: [String], range: SeriesRange) async throws -> SeriesDocument {
        let answer = try await archive.series(nodes: nodes.map(\.id), metrics: metrics, from: range.from, to: range.to,
                                              stepSeconds: range.stepSeconds)
        let names = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.name) })
        let units = Dictionary(uniqueKeysWithValues: MetricCatalog.builtIn.map { ($0.name, $0.unit) })
        return SeriesDocument(
            from: answer.from, to: answer.to, resolutionSeconds: answer.resolutionSeconds, stepSeconds: answer.stepSeconds,
            series: answer.series.map { series in
                SeriesDocument.Series(node: series.node, nodeName: names[series.node] ?? "", metric: series.metric,
                                      unit: units[series.metric],
                                      points: series.points.map(SeriesDocument.Point.init))
            })
    }
}
