import Foundation
import HummingbirdTesting
import NumbatCore
import NumbatStore
import NumbatTestSupport
import Testing

@testable import NumbatServices

/// Which stored points answer a range (issue 20): a range of exactly the raw tier's retention
/// reads raw points however the clock moves during the request, and a range spanning tiers
/// reads the finest points of each part. The archive on the real SQLite store with a clock the
/// test moves (`MetricArchiveTests.withArchive`), so nothing depends on timing.
@Suite("metric ranges: tiers chosen against one now, finest points for each part")
struct MetricRangeTests {
    let node = UUID()
    static var epoch: Date { MetricArchiveTests.epoch }

    @Test("the last hour is raw even when the clock moves on during the request")
    func lastHour() async throws {
        try await MetricArchiveTests.withArchive { archive, clock, _ in
            try await MetricArchiveTests.collect(archive, clock, node: node, minutes: 0..<180) { Double($0) }
            // The request measured "1h ago" at `asked`; the archive's clock has moved on by the
            // time it reads (the failure: it fell to the 5-minute tier and had nothing).
            let asked = clock.now
            clock.advance(0.003)
            for tiers in [SeriesTiers.single, .finestEach] {
                let measured = try await archive.series(nodes: [node], metrics: ["m"], from: asked.addingTimeInterval(-3600), to: asked,
                                                        now: asked, tiers: tiers)
                #expect(measured.resolutionSeconds == 0 && measured.parts.count == 1)
                #expect(measured.series[0].points.map(\.value) == (119..<180).map(Double.init))
                // Without the caller's now, the archive's own (3 ms later) is within the tolerance.
                let late = try await archive.series(nodes: [node], metrics: ["m"], from: asked.addingTimeInterval(-3600), to: asked, tiers: tiers)
                #expect(late.resolutionSeconds == 0)
                #expect(late.series[0].points.count == 60, "the point exactly an hour before the archive's now is 3 ms too old")
            }
            // What the route did before issue 20: a second, later `now` and no tolerance; the
            // hour fell to the 5-minute tier.
            let before = try await archive.series(nodes: [node], metrics: ["m"], from: asked.addingTimeInterval(-3600), to: asked,
                                                  now: asked.addingTimeInterval(0.003), tolerance: .zero)
            #expect(before.resolutionSeconds == 300)
            // Well past the tolerance, the single-tier answer is the 5-minute tier's.
            clock.advance(60)
            let old = try await archive.series(nodes: [node], metrics: ["m"], from: asked.addingTimeInterval(-3600), to: asked)
            #expect(old.resolutionSeconds == 300)
        }
    }

    @Test("a range spanning tiers: raw for the last hour, exact 5-minute roll-ups before, 15-minute before that")
    func spanning() async throws {
        try await MetricArchiveTests.withArchive { archive, clock, _ in
            try await MetricArchiveTests.collect(archive, clock, node: node, minutes: 0..<(3 * 24 * 60)) { Double($0) }
            // Not on a bucket boundary: the raw tier holds minute 4260.5 on.
            clock.advance(90)
            try await archive.flush()
            let now = clock.now
            let minute = { (point: MetricPoint) in point.time.timeIntervalSince(Self.epoch) / 60 }

            let six = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-6 * 3600), to: now, tiers: .finestEach)
            #expect(six.resolutionSeconds == 300)
            #expect(six.parts.map(\.resolutionSeconds) == [300, 0])
            // The parts meet on the first 5-minute boundary the raw tier holds entirely.
            let boundary = Self.epoch.addingTimeInterval(4265 * 60)
            #expect(six.parts[1].from == boundary && six.parts[0].to < boundary && six.parts[0].from == now.addingTimeInterval(-6 * 3600))
            let points = six.series[0].points
            let rolled = points.filter { $0.minimum != nil }
            let raw = points.filter { $0.minimum == nil }
            #expect(raw.map(\.value) == (4265..<4320).map(Double.init))
            // Buckets 5k ..< 5k+5 from minute 3960.5 (six hours ago) on: 3965 ... 4260; each exact.
            #expect(rolled.map(minute) == stride(from: 3965.0, through: 4260, by: 5).map { $0 })
            #expect(rolled.allSatisfy { $0.value == minute($0) + 2 && $0.minimum == minute($0) && $0.maximum == minute($0) + 4 })
            #expect(points.map(\.time) == points.map(\.time).sorted() && Set(points.map(\.time)).count == points.count)

            let three = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-3 * 86_400), to: now, tiers: .finestEach)
            #expect(three.resolutionSeconds == 900)
            #expect(three.parts.map(\.resolutionSeconds) == [900, 300, 0])
            let times = three.series[0].points.map(\.time)
            #expect(times == times.sorted() && Set(times).count == times.count)
            for (older, newer) in zip(three.parts, three.parts.dropFirst()) { #expect(older.to < newer.from) }
            // Every minute is counted once: the averages weighted by their bucket lengths add up.
            let total = three.series[0].points.reduce(0.0) { sum, point in
                guard let minimum = point.minimum, let maximum = point.maximum else { return sum + point.value }
                return sum + point.value * (maximum - minimum + 1)
            }
            let first = Int(three.series[0].points[0].minimum ?? 0)
            #expect(total == Double((first..<4320).reduce(0, +)))

            // With a step coarser than every part, one resolution again, still exact.
            let stepped = try await archive.series(nodes: [node], metrics: ["m"], from: now.addingTimeInterval(-6 * 3600), to: now,
                                                   stepSeconds: 1800, tiers: .finestEach)
            #expect(stepped.stepSeconds == 1800 && stepped.parts.map(\.stepSeconds) == [1800, 1800])
            let buckets = stepped.series[0].points
            #expect(buckets.dropFirst().dropLast().allSatisfy { $0.value == minute($0) + 14.5 && $0.minimum == minute($0) && $0.maximum == minute($0) + 29 },
                    "\(buckets.map { ($0.value, minute($0)) })")
        }
    }

    @Test("the plan: parts on bucket boundaries, the tolerance, ranges wholly inside one tier")
    func plan() {
        let schedule = RetentionSchedule.standard
        let now: Int64 = 1_796_083_200_000 + 12_345
        let hour: Int64 = 3_600_000
        func plan(_ from: Int64, _ to: Int64 = now, tolerance: Int64 = 5_000) -> [MetricArchive.PlannedPart] {
            MetricArchive.plan(schedule: schedule, from: from, to: to, now: now, tolerance: tolerance, mode: .finestEach)
        }
        #expect(plan(now - hour) == [.init(tier: 0, start: now - hour, end: now)])
        #expect(plan(now - hour - 4_000) == [.init(tier: 0, start: now - hour, end: now)], "within the tolerance")
        let boundary = now - hour - 12_345 + 300_000
        #expect(plan(now - hour - 6_000) == [.init(tier: 1, start: now - hour - 6_000, end: boundary - 1), .init(tier: 0, start: boundary, end: now)])
        // Wholly older than the raw tier: one part.
        #expect(plan(now - 5 * hour, now - 2 * hour) == [.init(tier: 1, start: now - 5 * hour, end: now - 2 * hour)])
        // Older than every tier: the coarsest answers from its oldest point.
        #expect(plan(now - 30 * 86_400_000).first == .init(tier: 2, start: now - 7 * 86_400_000, end: now - 86_400_000 - 12_345 + 900_000 - 1))
        #expect(MetricArchive.plan(schedule: schedule, from: now - 2 * hour, to: now, now: now, tolerance: 0, mode: .single)
                == [.init(tier: 1, start: now - 2 * hour, end: now)])
    }
}

/// The same through the API with a real node collected every second.
@Suite("metric ranges and names through the API with a real node")
struct MetricRangeAPITests {
    @Test("from=1h reads raw points every time; unknown metric names are refused by name; collected library names are known")
    func api() async throws {
        try await TestNode.with(release: .otp25) { peer in
            try await TestServer.with(metricsInterval: 1) { server, client in
                let id = try await MetricsTests.add(peer, to: server, client: client)
                let path = "/api/metrics/nodes/\(id)/series?metrics=process_count&from=1h"
                let stored = try await eventually(within: .seconds(60)) {
                    let series = try await MetricHistoryTests.series(client, server, "/api/metrics/nodes/\(id)/series?metrics=process_count&from=10m")
                    return (series.first?["points"] as? [Any])?.isEmpty == false
                }
                #expect(stored)
                for attempt in 0..<10 {
                    let answer = try await client.call(.get, path, token: server.adminToken)
                    let points = ((answer["series"] as? [[String: Any]])?.first?["points"] as? [Any]) ?? []
                    #expect(answer.status == .ok)
                    #expect(answer["resolution_seconds"] as? Int == 0 && !points.isEmpty, "attempt \(attempt): \(answer.text.prefix(300))")
                    let parts = answer["parts"] as? [[String: Any]] ?? []
                    #expect(parts.count == 1 && parts.first?["resolution_seconds"] as? Int == 0)
                }

                // A name nobody has heard of: 404 naming it, on a node and on a family.
                let unknown = try await client.call(.get, "/api/metrics/nodes/\(id)/series?metrics=process_count,no_such_metric", token: server.adminToken)
                #expect(unknown.status == .notFound && unknown.errorCode == "metric_not_found", "\(unknown.text)")
                #expect(unknown.errorMessage?.contains("no_such_metric") == true && unknown.errorMessage?.contains("process_count") == false)
                let node = try await client.call(.get, "/api/topo/nodes/\(id)", token: server.adminToken)
                let family = try #require(node["family_id"] as? String)
                let familyUnknown = try await client.call(.get, "/api/metrics/families/\(family)/series?metric=no_such_metric", token: server.adminToken)
                #expect(familyUnknown.status == .notFound && familyUnknown.errorMessage?.contains("no_such_metric") == true, "\(familyUnknown.text)")
                // A catalogued metric this node lacks (it needs mnesia) is known: an empty series.
                let absent = try await client.call(.get, "/api/metrics/nodes/\(id)/series?metrics=mnesia_transaction_commits", token: server.adminToken)
                #expect(absent.status == .ok, "\(absent.text)")
                // Library metrics are named by the library: known once collected from any node.
                let dynamic = "folsom.numbat_range_test"
                #expect(try await client.call(.get, "/api/metrics/nodes/\(id)/series?metrics=\(dynamic)", token: server.adminToken).status == .notFound)
                let uuid = try #require(UUID(uuidString: id))
                try await server.server.metrics.archive.ingest(node: uuid, time: Date(), values: [dynamic: 3])
                let known = try await client.call(.get, "/api/metrics/nodes/\(id)/series?metrics=\(dynamic)&from=10m", token: server.adminToken)
                #expect(known.status == .ok, "\(known.text)")
            }
        }
    }
}
