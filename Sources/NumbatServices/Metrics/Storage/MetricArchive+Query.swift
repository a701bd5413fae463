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

/// Which tiers answer a range older than the raw tier's retention.
public enum SeriesTiers: Sendable {
    /// One tier for the whole range: the finest that still holds points as old as `from`, so
    /// every point has the same resolution.
    case single
    /// The finest points available for each part of the range: raw points for the part the raw
    /// tier still holds, 5-minute roll-ups before that, and so on. What a chart of "the last
    /// six hours" wants: the recent hour in full detail.
    case finestEach
}

/// The answer to a series query, with the tier(s) it was read from.
public struct SeriesAnswer: Sendable {
    /// One stretch of the range answered from one tier.
    public struct Part: Sendable, Equatable {
        public var from: Date
        public var to: Date
        /// The tier's bucket length; 0 for raw points.
        public var resolutionSeconds: Int
        /// The `step` applied to this part, when coarser than its tier's resolution.
        public var stepSeconds: Int?
    }

    public var from: Date
    public var to: Date
    /// The coarsest resolution of the answer (0 when every point is raw): what one part alone
    /// has, and the worst of several.
    public var resolutionSeconds: Int
    /// The bucket length asked for, when coarser than some tier's.
    public var stepSeconds: Int?
    /// The parts, oldest first; one unless the range spans tiers (`SeriesTiers.finestEach`).
    public var parts: [Part]
    public var series: [MetricSeries]
}

extension MetricArchive {
    /// Every metric name ever stored (on any node), for telling an unknown name from a metric
    /// that has no points in a range.
    public func storedMetricNames() -> Set<String> { Set(metricIDs().keys) }

    /// The points of `metrics` on `nodes` between `from` and `to` (inclusive). `now` is the
    /// time the caller measured `from` against (read once per request, so a range of exactly a
    /// tier's retention never falls to the next tier because the clock moved on); a tier whose
    /// retention misses `from` by at most `tolerance` still answers (its oldest points start a
    /// little after `from`). With `.single` one tier answers (see `SeriesTiers`); with
    /// `.finestEach` each part of the range comes from the finest tier holding it, the parts
    /// meeting on a bucket boundary of the coarser one so no time is counted twice. With
    /// `step`, points are averaged into buckets of that many seconds wherever that is coarser
    /// than the tier's. Points past retention are never returned, even before their block is
    /// pruned.
    public func series(nodes: [UUID], metrics: [String], from: Date, to: Date, stepSeconds: Int? = nil,
                       now nowDate: Date? = nil, tolerance: Duration = .seconds(5),
                       tiers mode: SeriesTiers = .single) async throws -> SeriesAnswer {
        let now = nowDate.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? nowMilliseconds
        let fromMs = Int64((from.timeIntervalSince1970 * 1000).rounded(.down))
        let toMs = Int64((to.timeIntervalSince1970 * 1000).rounded(.up))
        let toleranceMs = tolerance.components.seconds * 1000 + tolerance.components.attoseconds / 1_000_000_000_000_000
        let plan = Self.plan(schedule: schedule, from: fromMs, to: toMs, now: now, tolerance: toleranceMs, mode: mode)
        try await learnNames(ifMissing: metrics)
        let ids = metricIDs()
        let wanted = Set(metrics.compactMap { ids[$0] })
        // Per part (oldest first), per node, per metric id.
        var found: [[UUID: [Int: [SeriesPoint]]]] = []
        for part in plan {
            found.append(wanted.isEmpty || part.start > part.end
                ? [:] : try await points(nodes: nodes, wanted: wanted, tier: part.tier, from: part.start, to: part.end, now: now))
        }
        let resolutions = plan.map { schedule.tiers[$0.tier].resolutionSeconds }
        // A step applies to the parts it is coarser than: the most recent, finest ones.
        let stepped = resolutions.map { resolution in stepSeconds.map { $0 > resolution } ?? false }
        let parts = zip(plan, resolutions).map { part, resolution in
            SeriesAnswer.Part(from: Date(timeIntervalSince1970: Double(part.start) / 1000),
                              to: Date(timeIntervalSince1970: Double(part.end) / 1000), resolutionSeconds: resolution,
                              stepSeconds: stepSeconds.flatMap { $0 > resolution ? $0 : nil })
        }
        var answer = SeriesAnswer(from: parts.first?.from ?? from, to: to, resolutionSeconds: resolutions.max() ?? 0,
                                  stepSeconds: stepped.contains(true) ? stepSeconds : nil, parts: parts, series: [])
        for node in nodes {
            for metric in metrics {
                var plain: [SeriesPoint] = []
                var bucketed: [SeriesPoint] = []
                for (index, part) in found.enumerated() {
                    let points = ids[metric].flatMap { part[node]?[$0] } ?? []
                    if stepped[index] { bucketed += points } else { plain += points }
                }
                let points = Self.answerPoints(plain, step: nil) + Self.answerPoints(bucketed, step: answer.stepSeconds)
                answer.series.append(MetricSeries(node: node, metric: metric, points: points))
            }
        }
        return answer
    }

    /// One part of a query: a tier and the times (ms, inclusive) it answers.
    struct PlannedPart: Equatable {
        var tier: Int
        var start: Int64
        var end: Int64
    }

    /// Which tier answers which part of `from ... to`, oldest part first. Pure, so the choice
    /// is tested without a store.
    static func plan(schedule: RetentionSchedule, from: Int64, to: Int64, now: Int64, tolerance: Int64,
                     mode: SeriesTiers) -> [PlannedPart] {
        let last = schedule.tiers.count - 1
        var parts: [PlannedPart] = []
        var end = to
        for tier in schedule.tiers.indices {
            let kept = schedule.oldestKept(tier: tier, now: now)
            if from >= kept - tolerance || tier == last {
                parts.append(PlannedPart(tier: tier, start: max(from, kept), end: end))
                break
            }
            guard mode == .finestEach else { continue }
            // This tier holds only the recent part: from the first bucket boundary of the next
            // tier at or after its oldest point; the next tier's whole buckets answer before it.
            let length = Int64(schedule.tiers[tier + 1].resolutionSeconds) * 1000
            let boundary = -floorDivide(-kept, length) * length
            if boundary <= end {
                parts.append(PlannedPart(tier: tier, start: boundary, end: end))
                end = boundary - 1
            }
        }
        return parts.reversed()
    }

    /// The stored and pending points of one tier between `from` and `to` (ms, inclusive).
    /// Memory is read before the store: a chunk leaves memory only once its write committed, so
    /// a point is in one or the other (or both, counted once), whatever a flush does meanwhile.
    private func points(nodes: [UUID], wanted: Set<Int>, tier: Int, from: Int64, to: Int64, now: Int64) async throws -> [UUID: [Int: [SeriesPoint]]] {
        let unstored = unstoredRows(nodes: nodes, tier: tier, from: from, to: to + 1, now: now)
        var rows: [UUID: [Int64: [StoredMetricBlock]]] = [:]
        for stored in try await store.metricBlocks(nodes: nodes, tier: tier, from: from, to: to + 1) {
            rows[stored.nodeID, default: [:]][stored.start, default: []].append(stored)
        }
        // Points not yet written come after every stored row of their block.
        for row in unstored { rows[row.nodeID, default: [:]][row.start, default: []].append(row) }
        var result: [UUID: [Int: [SeriesPoint]]] = [:]
        for (node, blocks) in rows {
            var points: [Int: [SeriesPoint]] = [:]
            for (_, blockRows) in blocks.sorted(by: { $0.key < $1.key }) {
                // A damaged row: its points are missing from the answer, the rest answered.
                let merged = try Self.merged(blockRows, metrics: wanted) { row, error in
                    self.logger.error("a stored metric block is damaged; its points are left out of the answer",
                                      metadata: ["node": "\(row.nodeID)", "tier": "\(row.tier)", "start": "\(row.start)", "sequence": "\(row.sequence)", "error": "\(error)"])
                }
                for (metric, decoded) in merged {
                    points[metric, default: []] += decoded.filter { $0.time >= from && $0.time <= to }
                }
            }
            result[node] = points
        }
        return result
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
            let index = NodeSeries.Bucket.index(point.time, length: length)
            if buckets.last?.index != index { buckets.append(NodeSeries.Bucket(start: Int64(index) * length, length: length)) }
            if point.values.count == 4 {
                buckets[buckets.count - 1].add(stored: point.values)
            } else {
                buckets[buckets.count - 1].add(point.values[0])
            }
        }
        return buckets.map { bucket in
            MetricPoint(time: Date(timeIntervalSince1970: Double(bucket.start(length: length)) / 1000), value: bucket.average,
                        minimum: bucket.minimum, maximum: bucket.maximum)
        }
    }
}
