import Foundation
import GRDB
import NumbatCore

/// Raising and clearing run through statements prepared once per connection
/// (`cachedStatement`): a node's checks raise and clear as its values cross thresholds, and
/// preparing each statement again cost about 200,000 instructions a statement, a clear near a
/// million (scripts/callgrind-metrics.sh).
extension SQLiteStore: AlarmStore {
    /// Cleared alarms kept (with their history); older cleared ones are deleted as more clear.
    static let clearedAlarmsKept = 100_000

    public func raiseAlarm(_ raise: AlarmRaise, repeat: Bool) async throws -> AlarmChange? {
        try await pool.write { db in
            if var alarm = try Self.activeAlarm(db, nodeID: raise.nodeID, key: raise.key) {
                guard `repeat` else { return nil }
                let kind = alarm.raiseAgain(raise)
                try db.cachedStatement(sql: """
                    UPDATE alarm SET raise_count = ?, last_raised_at = ?, severity = ?, summary = ?, details = ?, state = ?,
                    acknowledged_at = ?, acknowledged_by = ? WHERE id = ?
                    """).execute(arguments: [alarm.raiseCount, raise.time.timeIntervalSince1970, alarm.severity.rank, alarm.summary,
                                             alarm.details, alarm.state.rawValue, alarm.acknowledgedAt?.timeIntervalSince1970,
                                             alarm.acknowledgedBy, alarm.id])
                try Self.record(db, alarm.id, AlarmEvent(time: raise.time, kind: kind, text: "\(raise.severity.rawValue): \(raise.summary)"))
                return AlarmChange(alarm: alarm, kind: kind)
            }
            try db.cachedStatement(sql: """
                INSERT INTO alarm (node_id, node_name, key, source, severity, state, summary, details, raised_at, last_raised_at, raise_count)
                VALUES (?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, 1)
                """).execute(arguments: [raise.nodeID, raise.nodeName, raise.key, raise.source.rawValue, raise.severity.rank, raise.summary,
                                         raise.details, raise.time.timeIntervalSince1970, raise.time.timeIntervalSince1970])
            let alarm = Alarm(id: db.lastInsertedRowID, nodeID: raise.nodeID, nodeName: raise.nodeName, key: raise.key, source: raise.source,
                              severity: raise.severity, summary: raise.summary, details: raise.details, raisedAt: raise.time)
            try Self.record(db, alarm.id, AlarmEvent(time: raise.time, kind: .raised, text: "\(raise.severity.rawValue): \(raise.summary)"))
            return AlarmChange(alarm: alarm, kind: .raised)
        }
    }

    public func clearAlarm(nodeID: UUID, key: String, time: Date, reason: String) async throws -> AlarmChange? {
        try await pool.write { db in
            guard var alarm = try Self.activeAlarm(db, nodeID: nodeID, key: key) else { return nil }
            alarm.state = .cleared
            alarm.clearedAt = time
            try db.cachedStatement(sql: "UPDATE alarm SET state = 'cleared', cleared_at = ? WHERE id = ?")
                .execute(arguments: [time.timeIntervalSince1970, alarm.id])
            try Self.record(db, alarm.id, AlarmEvent(time: time, kind: .cleared, text: reason))
            try db.cachedStatement(sql: """
                DELETE FROM alarm WHERE state = 'cleared' AND id <= (SELECT id FROM alarm WHERE state = 'cleared' ORDER BY id DESC LIMIT 1 OFFSET ?)
                """).execute(arguments: [Self.clearedAlarmsKept])
            return AlarmChange(alarm: alarm, kind: .cleared)
        }
    }

    public func acknowledgeAlarm(id: Int64, by actor: String, comment: String, time: Date) async throws -> AlarmChange {
        try await pool.write { db in
            var alarm = try Self.existing(db, id: id)
            guard alarm.acknowledgedAt == nil else {
                throw NumbatError.conflict("alarm_already_acknowledged", "alarm \(id) was acknowledged by \(alarm.acknowledgedBy ?? "someone") already")
            }
            alarm.acknowledgedAt = time
            alarm.acknowledgedBy = actor
            // A cleared alarm may still be acknowledged (someone looked at it); it stays cleared.
            if alarm.state == .new { alarm.state = .acknowledged }
            try db.execute(sql: "UPDATE alarm SET state = ?, acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
                           arguments: [alarm.state.rawValue, time.timeIntervalSince1970, actor, id])
            try Self.record(db, id, AlarmEvent(time: time, kind: .acknowledged, actor: actor, text: comment))
            return AlarmChange(alarm: alarm, kind: .acknowledged)
        }
    }

    public func commentAlarm(id: Int64, by actor: String, text: String, time: Date) async throws -> AlarmChange {
        try await pool.write { db in
            let alarm = try Self.existing(db, id: id)
            try Self.record(db, id, AlarmEvent(time: time, kind: .commented, actor: actor, text: text))
            return AlarmChange(alarm: alarm, kind: .commented)
        }
    }

    public func alarm(id: Int64) async throws -> Alarm? {
        try await pool.read { db in
            guard var alarm = try Row.fetchOne(db, sql: "SELECT * FROM alarm WHERE id = ?", arguments: [id]).map(Self.alarm) else { return nil }
            alarm.history = try Row.fetchAll(db, sql: "SELECT * FROM alarm_event WHERE alarm_id = ? ORDER BY rowid", arguments: [id]).map { row in
                AlarmEvent(time: Date(timeIntervalSince1970: row["time"]), kind: AlarmEvent.Kind(rawValue: row["kind"]) ?? .commented,
                           actor: row["actor"], text: row["text"])
            }
            return alarm
        }
    }

    public func alarms(_ query: AlarmQuery) async throws -> [Alarm] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let before = query.before { conditions.append("id < ?"); arguments.append(before) }
        if let nodes = query.nodes {
            conditions.append("node_id IN (\(nodes.map { _ in "?" }.joined(separator: ",")))")
            arguments += nodes.map { $0 as any DatabaseValueConvertible }
        }
        if let states = query.states {
            conditions.append("state IN (\(states.map { _ in "?" }.joined(separator: ",")))")
            arguments += states.map { $0.rawValue as any DatabaseValueConvertible }
        }
        if let severity = query.severity { conditions.append("severity <= ?"); arguments.append(severity.rank) }
        if let source = query.source { conditions.append("source = ?"); arguments.append(source.rawValue) }
        let sql = "SELECT * FROM alarm" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY id DESC LIMIT ?"
        arguments.append(query.limit)
        let statementArguments = StatementArguments(arguments.map { $0.databaseValue })
        return try await pool.read { db in try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.alarm) }
    }

    public func activeAlarms(nodeID: UUID) async throws -> [Alarm] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alarm WHERE node_id = ? AND state != 'cleared' ORDER BY id", arguments: [nodeID]).map(Self.alarm)
        }
    }

    private static func activeAlarm(_ db: Database, nodeID: UUID, key: String) throws -> Alarm? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM alarm WHERE node_id = ? AND key = ? AND state != 'cleared'"), arguments: [nodeID, key]).map(alarm)
    }

    private static func existing(_ db: Database, id: Int64) throws -> Alarm {
        guard let alarm = try Row.fetchOne(db, sql: "SELECT * FROM alarm WHERE id = ?", arguments: [id]).map(alarm) else {
            throw NumbatError.notFound("alarm_not_found", "no alarm has id \(id)")
        }
        return alarm
    }

    private static func record(_ db: Database, _ id: Int64, _ event: AlarmEvent) throws {
        try db.cachedStatement(sql: "INSERT INTO alarm_event (alarm_id, time, kind, actor, text) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [id, event.time.timeIntervalSince1970, event.kind.rawValue, event.actor, event.text])
    }

    private static func alarm(_ row: Row) -> Alarm {
        let rank: Int = row["severity"]
        let acknowledged: Double? = row["acknowledged_at"]
        let cleared: Double? = row["cleared_at"]
        return Alarm(id: row["id"], nodeID: row["node_id"], nodeName: row["node_name"], key: row["key"],
                     source: Alarm.Source(rawValue: row["source"]) ?? .numbat,
                     severity: Alarm.Severity.allCases[min(max(rank, 0), Alarm.Severity.allCases.count - 1)],
                     state: Alarm.State(rawValue: row["state"]) ?? .new, summary: row["summary"], details: row["details"],
                     raisedAt: Date(timeIntervalSince1970: row["raised_at"]), lastRaisedAt: Date(timeIntervalSince1970: row["last_raised_at"]),
                     raiseCount: row["raise_count"], acknowledgedAt: acknowledged.map(Date.init(timeIntervalSince1970:)),
                     acknowledgedBy: row["acknowledged_by"], clearedAt: cleared.map(Date.init(timeIntervalSince1970:)))
    }
}
