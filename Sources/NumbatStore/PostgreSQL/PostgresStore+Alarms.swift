import Foundation
import NumbatCore
import PostgresNIO

extension PostgresStore: AlarmStore {
    /// Cleared alarms kept (with their history); older cleared ones are deleted as more clear.
    static let clearedAlarmsKept = 100_000

    /// One transaction. The active alarm is locked (`FOR UPDATE`) while it is changed; when there
    /// is none, the insert gives way on the one-active-alarm index if another server raised it
    /// meanwhile, and the loop then finds and repeats that one: one alarm, whoever raises it.
    public func raiseAlarm(_ raise: AlarmRaise, repeat: Bool) async throws -> AlarmChange? {
        let logger = self.logger
        return try await transaction { connection in
            for _ in 0..<3 {
                if var alarm = try await Self.activeAlarm(connection, nodeID: raise.nodeID, key: raise.key, logger: logger) {
                    guard `repeat` else { return nil }
                    let kind = alarm.raiseAgain(raise)
                    try await connection.query("""
                        UPDATE alarm SET raise_count = \(alarm.raiseCount), last_raised_at = \(raise.time.timeIntervalSince1970),
                            severity = \(alarm.severity.rank), summary = \(alarm.summary), details = \(alarm.details),
                            state = \(alarm.state.rawValue), acknowledged_at = \(alarm.acknowledgedAt?.timeIntervalSince1970),
                            acknowledged_by = \(alarm.acknowledgedBy)
                        WHERE id = \(alarm.id)
                        """, logger: logger)
                    try await Self.record(connection, alarm.id, AlarmEvent(time: raise.time, kind: kind,
                                                                           text: "\(raise.severity.rawValue): \(raise.summary)"), logger: logger)
                    return AlarmChange(alarm: alarm, kind: kind)
                }
                let inserted = try await Self.rows("""
                    INSERT INTO alarm (node_id, node_name, key, source, severity, state, summary, details, raised_at, last_raised_at, raise_count)
                    VALUES (\(raise.nodeID), \(raise.nodeName), \(raise.key), \(raise.source.rawValue), \(raise.severity.rank), 'new',
                            \(raise.summary), \(raise.details), \(raise.time.timeIntervalSince1970), \(raise.time.timeIntervalSince1970), 1)
                    ON CONFLICT (node_id, key) WHERE state <> 'cleared' DO NOTHING
                    RETURNING id
                    """, on: connection, logger: logger)
                guard let row = inserted.first else { continue }
                let alarm = Alarm(id: try row.value("id"), nodeID: raise.nodeID, nodeName: raise.nodeName, key: raise.key, source: raise.source,
                                  severity: raise.severity, summary: raise.summary, details: raise.details, raisedAt: raise.time)
                try await Self.record(connection, alarm.id, AlarmEvent(time: raise.time, kind: .raised,
                                                                       text: "\(raise.severity.rawValue): \(raise.summary)"), logger: logger)
                return AlarmChange(alarm: alarm, kind: .raised)
            }
            throw NumbatError.conflict("alarm_conflict", "alarm \(raise.key) of \(raise.nodeName) kept changing while it was raised")
        }
    }

    public func clearAlarm(nodeID: UUID, key: String, time: Date, reason: String) async throws -> AlarmChange? {
        let logger = self.logger
        return try await transaction { connection in
            guard var alarm = try await Self.activeAlarm(connection, nodeID: nodeID, key: key, logger: logger) else { return nil }
            alarm.state = .cleared
            alarm.clearedAt = time
            try await connection.query("UPDATE alarm SET state = 'cleared', cleared_at = \(time.timeIntervalSince1970) WHERE id = \(alarm.id)",
                                       logger: logger)
            try await Self.record(connection, alarm.id, AlarmEvent(time: time, kind: .cleared, text: reason), logger: logger)
            try await connection.query("""
                DELETE FROM alarm WHERE state = 'cleared'
                AND id <= (SELECT id FROM alarm WHERE state = 'cleared' ORDER BY id DESC LIMIT 1 OFFSET \(Self.clearedAlarmsKept))
                """, logger: logger)
            return AlarmChange(alarm: alarm, kind: .cleared)
        }
    }

    public func acknowledgeAlarm(id: Int64, by actor: String, comment: String, time: Date) async throws -> AlarmChange {
        let logger = self.logger
        return try await transaction { connection in
            var alarm = try await Self.existing(connection, id: id, logger: logger)
            guard alarm.acknowledgedAt == nil else {
                throw NumbatError.conflict("alarm_already_acknowledged", "alarm \(id) was acknowledged by \(alarm.acknowledgedBy ?? "someone") already")
            }
            alarm.acknowledgedAt = time
            alarm.acknowledgedBy = actor
            // A cleared alarm may still be acknowledged (someone looked at it); it stays cleared.
            if alarm.state == .new { alarm.state = .acknowledged }
            try await connection.query("""
                UPDATE alarm SET state = \(alarm.state.rawValue), acknowledged_at = \(time.timeIntervalSince1970), acknowledged_by = \(actor)
                WHERE id = \(id)
                """, logger: logger)
            try await Self.record(connection, id, AlarmEvent(time: time, kind: .acknowledged, actor: actor, text: comment), logger: logger)
            return AlarmChange(alarm: alarm, kind: .acknowledged)
        }
    }

    public func commentAlarm(id: Int64, by actor: String, text: String, time: Date) async throws -> AlarmChange {
        let logger = self.logger
        return try await transaction { connection in
            let alarm = try await Self.existing(connection, id: id, logger: logger)
            try await Self.record(connection, id, AlarmEvent(time: time, kind: .commented, actor: actor, text: text), logger: logger)
            return AlarmChange(alarm: alarm, kind: .commented)
        }
    }

    public func alarm(id: Int64) async throws -> Alarm? {
        guard var alarm = try await rows("SELECT * FROM alarm WHERE id = \(id)").first.map(Self.alarm) else { return nil }
        alarm.history = try await rows("SELECT * FROM alarm_event WHERE alarm_id = \(id) ORDER BY id").map { row in
            AlarmEvent(time: Date(timeIntervalSince1970: try row.value("time")),
                       kind: AlarmEvent.Kind(rawValue: try row.value("kind")) ?? .commented,
                       actor: try row.value("actor"), text: try row.value("text"))
        }
        return alarm
    }

    public func alarms(_ query: AlarmQuery) async throws -> [Alarm] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func next() -> String { "$\(binds.count)" }
        if let before = query.before { binds.append(before); conditions.append("id < \(next())") }
        if let nodes = query.nodes { binds.append(nodes); conditions.append("node_id = ANY(\(next()))") }
        if let states = query.states { binds.append(states.map(\.rawValue).sorted()); conditions.append("state = ANY(\(next()))") }
        if let severity = query.severity { binds.append(severity.rank); conditions.append("severity <= \(next())") }
        if let source = query.source { binds.append(source.rawValue); conditions.append("source = \(next())") }
        binds.append(query.limit)
        let sql = "SELECT * FROM alarm" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT \(next())"
        return try await rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map(Self.alarm)
    }

    public func activeAlarms(nodeID: UUID) async throws -> [Alarm] {
        try await rows("SELECT * FROM alarm WHERE node_id = \(nodeID) AND state <> 'cleared' ORDER BY id").map(Self.alarm)
    }

    private static func activeAlarm(_ connection: PostgresConnection, nodeID: UUID, key: String, logger: Logger) async throws -> Alarm? {
        try await rows("SELECT * FROM alarm WHERE node_id = \(nodeID) AND key = \(key) AND state <> 'cleared' FOR UPDATE",
                       on: connection, logger: logger).first.map(alarm)
    }

    private static func existing(_ connection: PostgresConnection, id: Int64, logger: Logger) async throws -> Alarm {
        guard let row = try await rows("SELECT * FROM alarm WHERE id = \(id) FOR UPDATE", on: connection, logger: logger).first else {
            throw NumbatError.notFound("alarm_not_found", "no alarm has id \(id)")
        }
        return try alarm(row)
    }

    private static func record(_ connection: PostgresConnection, _ id: Int64, _ event: AlarmEvent, logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO alarm_event (alarm_id, time, kind, actor, text)
            VALUES (\(id), \(event.time.timeIntervalSince1970), \(event.kind.rawValue), \(event.actor), \(event.text))
            """, logger: logger)
    }

    private static func alarm(_ row: PostgresRandomAccessRow) throws -> Alarm {
        let rank: Int = try row.value("severity")
        let acknowledged: Double? = try row.value("acknowledged_at")
        let cleared: Double? = try row.value("cleared_at")
        return Alarm(id: try row.value("id"), nodeID: try row.value("node_id"), nodeName: try row.value("node_name"), key: try row.value("key"),
                     source: Alarm.Source(rawValue: try row.value("source")) ?? .numbat,
                     severity: Alarm.Severity.allCases[min(max(rank, 0), Alarm.Severity.allCases.count - 1)],
                     state: Alarm.State(rawValue: try row.value("state")) ?? .new, summary: try row.value("summary"),
                     details: try row.value("details"),
                     raisedAt: Date(timeIntervalSince1970: try row.value("raised_at")),
                     lastRaisedAt: Date(timeIntervalSince1970: try row.value("last_raised_at")),
                     raiseCount: try row.value("raise_count"), acknowledgedAt: acknowledged.map(Date.init(timeIntervalSince1970:)),
                     acknowledgedBy: try row.value("acknowledged_by"), clearedAt: cleared.map(Date.init(timeIntervalSince1970:)))
    }
}
