import Foundation

/// What the API acknowledged before a kill, and the check of it after the restart.
///
/// Acknowledged means, for each kind:
/// - **a metric point**: returned by `GET .../series` before the kill at or before the series'
///   `written_through`, the server's word that it is in the store. Points are collected, not
///   posted: the server writes them every second (`MetricArchive`'s flush), and its series
///   include the ones not yet written, which a crash loses by design (docs/metrics.md). Those
///   that are gone are counted apart (`unflushed`), with the age of the oldest, so the bound is
///   measured, not assumed; one older than `stallBound` at the kill is a loss all the same (a
///   flush that stopped writing).
/// - **a notification**: listed by `GET /api/notifications` before the kill.
/// - **an alarm transition** (raised, acknowledged, cleared): what `GET /api/alarms` listed
///   before the kill (`raised_at`, `acknowledged_at`, `cleared_at` of each alarm id), and every
///   acknowledgement whose `POST .../acknowledge` answered 200.
/// - **an audit entry**: every rpc whose `POST /api/nodes/{id}/rpc` answered 200 (with its
///   `audit_id`), and every entry `GET /api/audit` listed.
///
/// After the restart every acknowledged item must be there, unchanged: the same value at the same
/// time, the same text, an alarm's transitions only added to (new -> acknowledged -> cleared).
final class KillLedger: @unchecked Sendable {
    /// The age past which a point shown as not yet written, and gone after the kill, is a loss:
    /// the server's flush (every second) had stopped writing, far beyond a slow store write.
    static let stallBound: TimeInterval = 30

    struct PointKey: Hashable {
        var node: String
        var metric: String
        var time: String
    }

    struct PointValue {
        var value: Double
        var time: Date
        /// Shown at or before its series' `written_through` (in any snapshot).
        var written: Bool
    }

    /// What one check found.
    struct Findings {
        var losses: [String] = []
        var points = 0
        var notifications = 0
        var alarmTransitions = 0
        var acknowledgements = 0
        var auditEntries = 0
        /// Points shown as not yet written and gone after the kill, and the oldest's age at the kill.
        var unflushed = 0
        var oldestUnflushed: TimeInterval = 0
    }

    private let lock = NSLock()
    private var points: [PointKey: PointValue] = [:]
    private var notifications: [Int64: CampaignAPI.Notification] = [:]
    /// Listed since the last check.
    private var newNotifications: Set<Int64> = []
    private var newestNotification: Int64 = 0
    private var alarms: [Int64: CampaignAPI.Alarm] = [:]
    /// `acknowledged_at` as each 200 answer to an acknowledgement gave it.
    private var acknowledgements: [Int64: String] = [:]
    private var audit: [Int64: CampaignAPI.AuditEntry] = [:]
    /// Audit ids answered by an rpc, with the command it ran.
    private var answeredRPCs: [Int64: String] = [:]
    private var newAudit: Set<Int64> = []
    private var newestAudit: Int64 = 0
    /// Points whose value changed between two snapshots, with no kill between (reported at the next check).
    private var changed: [String] = []

    // MARK: - Recording

    func acknowledged(alarm id: Int64, at time: String) {
        lock.withLock { acknowledgements[id] = time }
    }

    func answered(rpc auditID: Int64, command: String) {
        lock.withLock {
            answeredRPCs[auditID] = command
            newAudit.insert(auditID)
        }
    }

    /// Audit entries listed whose rpc was not answered 200 here: their outcomes and a sample.
    var unansweredAudit: String {
        lock.withLock {
            let others = audit.values.filter { answeredRPCs[$0.id] == nil }
            let outcomes = Dictionary(grouping: others, by: \.outcome).mapValues(\.count)
            return "\(others.count) (\(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
                + (others.prefix(3).map { " \($0.command) -> \($0.result.prefix(120))" }.joined(separator: ";"))
        }
    }

    var counts: (points: Int, notifications: Int, alarms: Int, acknowledgements: Int, audit: Int) {
        lock.withLock { (points.count, notifications.count, alarms.count, acknowledgements.count, Set(audit.keys).union(answeredRPCs.keys).count) }
    }

    /// Reads what the API shows now into the ledger: every node's series since `since`, the
    /// notifications and audit entries listed since the last snapshot, every alarm.
    func snapshot(_ base: String, nodes: [UUID], metrics: [String], since: Date) async throws {
        let seenAt = Date()
        var shown: [PointKey: PointValue] = [:]
        for node in nodes {
            for series in try await Self.series(base, node, metrics, since) {
                for point in series.points {
                    // Both times are RFC 3339 with milliseconds, in UTC: they order as text.
                    let written = series.written_through.map { point.t <= $0 } ?? false
                    shown[PointKey(node: series.node, metric: series.metric, time: point.t)] = PointValue(value: point.v, time: Self.date(point.t) ?? seenAt, written: written)
                }
            }
        }
        let since = lock.withLock { (newestNotification, newestAudit) }
        let listed = try await CampaignAPI.pages(CampaignAPI.NotificationPage.self, base, "/api/notifications", downTo: since.0,
                                                 items: \.notifications, id: \.id, next: \.next).filter { $0.id > since.0 }
        let alarmsListed = try await Self.alarms(base)
        let auditListed = try await CampaignAPI.pages(CampaignAPI.AuditPage.self, base, "/api/audit", downTo: since.1,
                                                      items: \.entries, id: \.id, next: \.next).filter { $0.id > since.1 }
        lock.withLock {
            for (key, value) in shown {
                if let before = points[key], before.value != value.value {
                    changed.append("metric point \(key.metric) of node \(key.node) at \(key.time) changed with no kill: \(before.value) -> \(value.value)")
                }
                if points[key] == nil { points[key] = value } else if value.written { points[key]?.written = true }
            }
            for notification in listed {
                notifications[notification.id] = notification
                newNotifications.insert(notification.id)
            }
            newestNotification = max(newestNotification, listed.map(\.id).max() ?? 0)
            for alarm in alarmsListed { alarms[alarm.id] = alarm }
            for entry in auditListed {
                audit[entry.id] = entry
                newAudit.insert(entry.id)
            }
            newestAudit = max(newestAudit, auditListed.map(\.id).max() ?? 0)
        }
    }

    // MARK: - Checking

    /// Checks the ledger against what the API shows now, after a restart from a kill at
    /// `killedAt` (nil for the final check, every item listed again). Points lost that were not
    /// yet written leave the ledger (they are not the server's to keep); everything else stays.
    func check(_ base: String, nodes: [UUID], metrics: [String], since: Date, killedAt: Date?) async throws -> Findings {
        var findings = Findings()
        // What was acknowledged before the check reads the API: an answer that comes while it
        // reads is checked next time (the listing may predate it).
        let (acknowledged, auditToCheck) = lock.withLock { (acknowledgements, killedAt == nil ? Set(audit.keys).union(answeredRPCs.keys) : newAudit) }
        var now: [PointKey: Double] = [:]
        for node in nodes {
            for series in try await Self.series(base, node, metrics, since) {
                for point in series.points { now[PointKey(node: series.node, metric: series.metric, time: point.t)] = point.v }
            }
        }
        let (ledgerPoints, oldestNewNotification, oldestNewAudit) = lock.withLock {
            (points, killedAt == nil ? 0 : (newNotifications.min() ?? Int64.max), killedAt == nil ? 0 : (auditToCheck.min() ?? Int64.max))
        }
        var gone: [PointKey] = []
        for (key, before) in ledgerPoints {
            findings.points += 1
            if let value = now[key], value == before.value { continue }
            let age = killedAt.map { $0.timeIntervalSince(before.time) } ?? .infinity
            if now[key] == nil, !before.written, age < Self.stallBound {
                findings.unflushed += 1
                findings.oldestUnflushed = max(findings.oldestUnflushed, age)
                gone.append(key)
            } else {
                findings.losses.append("metric point \(key.metric) of node \(key.node) at \(key.time) (\(String(format: "%.1f", age)) s before the kill, "
                    + "\(before.written ? "shown as written" : "never shown as written")): was \(before.value), is \(now[key].map { "\($0)" } ?? "gone")")
            }
        }

        let listed = oldestNewNotification == Int64.max ? [] : try await CampaignAPI.pages(
            CampaignAPI.NotificationPage.self, base, "/api/notifications", downTo: oldestNewNotification, items: \.notifications, id: \.id, next: \.next)
        let notificationsNow = Dictionary(listed.map { ($0.id, $0) }) { first, _ in first }
        let alarmsNow = Dictionary(try await Self.alarms(base).map { ($0.id, $0) }) { first, _ in first }
        let auditListed = oldestNewAudit == Int64.max ? [] : try await CampaignAPI.pages(
            CampaignAPI.AuditPage.self, base, "/api/audit", downTo: oldestNewAudit, items: \.entries, id: \.id, next: \.next)
        let auditNow = Dictionary(auditListed.map { ($0.id, $0) }) { first, _ in first }

        lock.withLock {
            findings.losses += changed
            changed = []
            for key in gone { points[key] = nil }
            for id in (killedAt == nil ? Set(notifications.keys) : newNotifications) {
                guard let before = notifications[id] else { continue }
                findings.notifications += 1
                if notificationsNow[id] != before {
                    findings.losses.append("notification \(id) (\(before.message.prefix(80))): \(notificationsNow[id].map { "now \($0)" } ?? "gone")")
                }
            }
            newNotifications = []
            for (id, before) in alarms {
                findings.alarmTransitions += 1 + (before.acknowledged_at == nil ? 0 : 1) + (before.cleared_at == nil ? 0 : 1)
                if let problem = Self.alarmProblem(before: before, after: alarmsNow[id]) { findings.losses.append(problem) }
            }
            for (id, time) in acknowledged {
                findings.acknowledgements += 1
                if alarmsNow[id]?.acknowledged_at != time {
                    findings.losses.append("alarm \(id)'s acknowledgement at \(time) (answered 200): \(alarmsNow[id].map { "acknowledged_at is \($0.acknowledged_at ?? "null")" } ?? "the alarm is gone")")
                }
            }
            for id in auditToCheck {
                findings.auditEntries += 1
                guard let after = auditNow[id] else {
                    findings.losses.append("audit entry \(id) (\(answeredRPCs[id] ?? audit[id]?.command ?? "?")): gone")
                    continue
                }
                if let before = audit[id], before != after { findings.losses.append("audit entry \(id) changed: \(before) -> \(after)") }
                if let command = answeredRPCs[id], after.command != command || after.outcome != "ok" {
                    findings.losses.append("audit entry \(id) of the answered rpc \(command): is \(after.command) \(after.outcome)")
                }
                audit[id] = after
            }
            newAudit.subtract(auditToCheck)
        }
        return findings
    }

    /// What is wrong with an alarm after the restart, given what was listed before: it must be
    /// there with the same identity and raise time, every transition it had (the same times),
    /// and a state no earlier in new -> acknowledged -> cleared.
    static func alarmProblem(before: CampaignAPI.Alarm, after: CampaignAPI.Alarm?) -> String? {
        guard let after else { return "alarm \(before.id) \(before.key) on \(before.node_name) (\(before.state)): gone" }
        let order = ["new": 0, "acknowledged": 1, "cleared": 2]
        var wrong: [String] = []
        if after.key != before.key || after.node_name != before.node_name || after.raised_at != before.raised_at { wrong.append("identity or raise time") }
        if before.acknowledged_at != nil, after.acknowledged_at != before.acknowledged_at { wrong.append("acknowledged_at \(before.acknowledged_at!) -> \(after.acknowledged_at ?? "null")") }
        if before.cleared_at != nil, after.cleared_at != before.cleared_at { wrong.append("cleared_at \(before.cleared_at!) -> \(after.cleared_at ?? "null")") }
        if (order[after.state] ?? -1) < (order[before.state] ?? 3) { wrong.append("state \(before.state) -> \(after.state)") }
        if after.raise_count < before.raise_count { wrong.append("raise_count \(before.raise_count) -> \(after.raise_count)") }
        return wrong.isEmpty ? nil : "alarm \(before.id) \(before.key) on \(before.node_name): \(wrong.joined(separator: ", "))"
    }

    // MARK: - Reading

    static func series(_ base: String, _ node: UUID, _ metrics: [String], _ since: Date) async throws -> [CampaignAPI.SeriesPage.Series] {
        let from = Int(since.timeIntervalSince1970)
        return try await CampaignAPI.read(CampaignAPI.SeriesPage.self, base,
                                          "/api/metrics/nodes/\(node.uuidString.lowercased())/series?metrics=\(metrics.joined(separator: ","))&from=\(from)").series
    }

    static func alarms(_ base: String) async throws -> [CampaignAPI.Alarm] {
        try await CampaignAPI.pages(CampaignAPI.AlarmPage.self, base, "/api/alarms", items: \.alarms, id: \.id, next: \.next)
    }

    static func date(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: .iso8601))
    }
}
