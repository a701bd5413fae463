import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `GET /api/metrics/nodes/{id}/series` and `GET /api/metrics/families/{id}/series`: the stored
/// history, each part of the range from the finest tier that holds it (raw points for the last
/// hour, 5-minute roll-ups before that, ...).
extension MetricsService {
    /// The range of a series request: `from` and `to` as RFC 3339 times, Unix seconds, or a
    /// duration ago (`1h`, `30m`); `step` in seconds or as a duration. Defaults: the last hour.
    struct SeriesRange {
        var from: Date
        var to: Date
        var stepSeconds: Int?
        /// The time `from` and `to` were measured against: read once per request.
        var now: Date

        init(_ query: (String) -> String?, now: Date) throws {
            self.now = now
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
        api.get("metrics/nodes/:id/series") { request, context -> MetricSeriesResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            return try await self.nodeSeries(id, { request.uri.queryParameters[Substring($0)].map(String.init) })
        }
        api.get("metrics/families/:id/series") { request, context -> MetricSeriesResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            guard try await self.store.family(id: id) != nil else {
                throw NumbatError.notFound("family_not_found", "no node family has id \(id.uuidString.lowercased())")
            }
            let query = request.uri.queryParameters
            guard let metric = query["metric"].map(String.init), !metric.isEmpty else {
                throw NumbatError.badRequest("invalid_metrics", "metric must name one metric")
            }
            try self.requireKnown([metric])
            let members = try await self.store.nodes().filter { $0.familyID == id }
            let range = try SeriesRange({ query[Substring($0)].map(String.init) }, now: self.archive.now())
            return try await self.seriesDocument(nodes: members, metrics: [metric], range: range)
        }
    }

    /// A node's stored history of `metrics` (comma-separated) over `from`, `to` and `step`
    /// (`SeriesRange`), as `parameter` gives them: the REST route's answer, and the MCP
    /// `metric_history` tool's.
    public func nodeSeries(_ id: UUID, _ parameter: (String) -> String?) async throws -> MetricSeriesResponse {
        guard let node = try await store.node(id: id) else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        let metrics = try Self.metricNames(parameter("metrics") ?? "", atMost: 50)
        try requireKnown(metrics)
        let range = try SeriesRange(parameter, now: archive.now())
        return try await seriesDocument(nodes: [node], metrics: metrics, range: range)
    }

    /// Refuses metric names Numbat has never heard of: neither built in (`MetricCatalog`) nor
    /// ever collected from any node (Folsom and Exometer names are the libraries' own, so only
    /// the history knows them). A typo is an error rather than an empty chart; a metric that a
    /// node stopped reporting, or that only some nodes have, is still known and answers with
    /// the points there are.
    /// A `metrics` parameter: 1 to `limit` names, comma-separated, none blank (`a,,b` is a
    /// typo, refused as the document's pattern refuses it, not read as `a,b`).
    static func metricNames(_ text: String, atMost limit: Int) throws -> [String] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false)
        guard (1...limit).contains(names.count), !names.contains(where: \.isBlank) else {
            throw NumbatError.badRequest("invalid_metrics", "metrics must name 1 to \(limit) metrics, comma-separated")
        }
        return names.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func requireKnown(_ metrics: [String]) throws {
        let stored = archive.storedMetricNames()
        let unknown = metrics.filter { MetricCatalog.byName[$0] == nil && !stored.contains($0) }
        guard !unknown.isEmpty else { return }
        let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
        throw NumbatError.notFound("metric_not_found",
                                   "no metric named \(names) is built in or has been collected (see `numbat metrics catalog` or GET /api/metrics/catalog)")
    }

    func seriesDocument(nodes: [ManagedNode], metrics: [String], range: SeriesRange) async throws -> MetricSeriesResponse {
        // Ranges are read against the `now` they were measured from; a tier that misses `from`
        // by less than one collection interval (5 s to a minute) still answers: its first point
        // is that close to `from` anyway.
        let slowest = nodes.map { interval(for: $0.id) }.max() ?? settings.interval
        let answer = try await archive.series(nodes: nodes.map(\.id), metrics: metrics, from: range.from, to: range.to,
                                              stepSeconds: range.stepSeconds, now: range.now,
                                              tolerance: min(max(slowest, .seconds(5)), .seconds(60)), tiers: .finestEach)
        // Read after the points: a point shown from memory is then either written by now or
        // after this time, never wrongly covered by it.
        let written = archive.writtenThrough(nodes: nodes.map(\.id))
        let names = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.name) })
        let units = Dictionary(uniqueKeysWithValues: MetricCatalog.builtIn.map { ($0.name, $0.unit) })
        return MetricSeriesResponse(
            from: answer.from, to: answer.to, resolutionSeconds: answer.resolutionSeconds, stepSeconds: answer.stepSeconds,
            parts: answer.parts.map { .init(from: $0.from, to: $0.to, resolutionSeconds: $0.resolutionSeconds, stepSeconds: $0.stepSeconds) },
            series: answer.series.map { series in
                MetricSeriesResponse.Series(node: series.node, nodeName: names[series.node] ?? "", metric: series.metric,
                                            unit: units[series.metric],
                                            points: series.points.map(MetricSeriesResponse.Point.init),
                                            // A node with no points in memory here: all it shows came from the store.
                                            writtenThrough: MetricSeriesResponse.Point.millisecondText(
                                                written[series.node].map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? answer.to))
            })
    }
}

extension MetricSeriesResponse: ResponseEncodable {}

extension MetricSeriesResponse.Point {
    /// A stored point, its time with milliseconds.
    init(_ point: MetricPoint) {
        self.init(t: Self.millisecondText(point.time), v: point.value, min: point.minimum, max: point.maximum)
    }

    /// `2026-12-04T17:00:00.457Z`: the time rounded to its millisecond. Points are stored in
    /// milliseconds, but a `Date` holds them as a `Double` of seconds, and the formatter
    /// truncates its fraction: .457 held as .45699999 printed as .456, a millisecond early.
    static func millisecondText(_ time: Date) -> String {
        let millis = Int64((time.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = millis.quotientAndRemainder(dividingBy: 1000)
        let whole = seconds - (fraction < 0 ? 1 : 0)
        let text = Date(timeIntervalSince1970: TimeInterval(whole)).formatted(.iso8601)
        return "\(text.dropLast()).\(String(format: "%03d", (fraction + 1000) % 1000))Z"
    }
}
