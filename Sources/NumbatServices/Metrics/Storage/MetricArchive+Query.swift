import Foundation
import NumbatCore

/// One point of an answered series: for raw points `minimum` and `maximum` are nil; for
/// roll-ups (and `step` buckets) they are the bucket's extremes and `value` its average.
public struct MetricPoint: Sendable, Equatable {
    public var time: Date
    public var value: Double
    public var minimum: Double?
    public var maximum: Double?
}

/// A node's series of one metric.
public struct MetricSeries: Sendable, Equatable {
    public var node: UUID
    public var metric: String
    public var points: [MetricPoint]
}

/// The answer to a series query, with the tier it was read from.
public struct SeriesAnswer: Sendable {
    public var from: Date
    public var to: Date
    /// The tier's bucket length; 0 for raw points.
    public var resolutionSeconds: Int
    /// The bucket length asked for, when coarser than the tier's.
    public var stepSeconds: Int?
    public var series: [MetricSeries]
}

extension MetricArchive {
    /// The points of `metrics` on `nodes` between `from` and `to` (inclusive), from the finest
    /// tier that still holds points as old as `from`; with `step`, averaged into buckets of that
    /// many seconds. Points past retention are never returned, even before their block is pruned.
    public func series(nodes: [UUID], metrics: [String], from: Date, to: Date, stepSeconds: Int? = nil) async throws -> SeriesAnswer {
        let now = nowMilliseconds
        let fromMs = Int64((from.timeIntervalSince1970 * 1000).rounded(.down))
        let toMs = Int64((to.timeIntervalSince1970 * 1000).rounded(.up))
        let tier = schedule.tier(forQueryFrom: fromMs, now: now)
        let start = max(fromMs, schedule.oldestKept(tier: tier, now: now))
        let ids = metricIDs()
        let wanted = Set(metrics.compactMap { ids[$0] })
        var rows: [UUID: [Int64: [StoredMetricBlock]]] = [:]
        if !wanted.isEmpty, start <= toMs {
            for stored in try await store.metricBlocks(nodes: nodes, tier: tier, from: start, to: toMs + 1) {
                rows[stored.nodeID, default: [:]][stored.start, default: []].append(stored)
            }
            // Points not yet written come after every stored row of their block.
            for (node, block) in pendingBlocks(nodes: nodes, tier: tier, from: start, to: toMs + 1, now: now) {
                rows[node, default: [:]][block.start, default: []].append(
                    StoredMetricBlock(nodeID: node, tier: tier, start: block.start, sequence: .max, end: block.end,
                                      points: block.pointCount, data: block.encoded()))
            }
        }
        let resolution = schedule.tiers[tier].resolutionSeconds
        let step = stepSeconds.flatMap { $0 > resolution ? $0 : nil }
        var answer = SeriesAnswer(from: Date(timeIntervalSince1970: Double(start) / 1000), to: to,
                                  resolutionSeconds: resolution, stepSeconds: step, series: [])
        for node in nodes {
            var points: [Int: [SeriesPoint]] = [:]
            for (_, blockRows) in (rows[node] ?? [:]).sorted(by: { $0.key < $1.key }) {
                for (metric, decoded) in try Self.merged(blockRows, metrics: wanted) {
                    points[metric, default: []] += decoded.filter { $0.time >= start && $0.time <= toMs }
                }
            }
            for metric in metrics {
                let raw = ids[metric].flatMap { points[$0] } ?? []
                answer.series.append(MetricSeries(node: node, metric: metric, points: Self.answerPoints(raw, step: step)))
            }
        }
        return answer
    }

    static func answerPoints(_ points: [SeriesPoint], step: Int?) -> [MetricPoint] {
        guard let step else {
            return points.map { point in
                let time = Date(timeIntervalSince1970: Double(point.time) / 1000)
                guard point.values.count == 4 else { return MetricPoint(time: time, value: point.values[0]) }
                return MetricPoint(time: time, value: point.values[0] / point.values[3], minimum: point.values[1], maximum: point.values[2])
            }
        }
        // Coarser buckets: raw points count one each; roll-ups by their own counts, so the
        // average stays exact.
        let length = Int64(step) * 1000
        var buckets: [NodeSeries.Bucket] = []
        for point in points {
            let start = floorDivide(point.time, length) * length
            if buckets.last?.start != start { buckets.append(NodeSeries.Bucket(start: start)) }
            if point.values.count == 4 {
                buckets[buckets.count - 1].add(stored: point.values)
            } else {
                buckets[buckets.count - 1].add(point.values[0])
            }
        }
        return buckets.map { bucket in
            MetricPoint(time: Date(timeIntervalSince1970: Double(bucket.start) / 1000), value: bucket.average,
                        minimum: bucket.minimum, maximum: bucket.maximum)
        }
    }
}
