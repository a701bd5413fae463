import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat alarms`: the active alarms (or all), one alarm's history, acknowledging and
/// commenting.
struct AlarmsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarms",
        abstract: "Alarms: list the active ones, show one, acknowledge or comment.",
        discussion: """
            numbat alarms                         the active alarms, newest first
            numbat alarms --all --node app@host   every alarm of a node, cleared ones too
            numbat alarms --show 12               one alarm and its history
            numbat alarms --ack 12 --comment "disk being replaced"
            numbat alarms --comment "still there" --on 12
            """)

    @Option(help: "Only this node (id or name).") var node: String?
    @Flag(help: "Cleared alarms too.") var all = false
    @Option(help: "The least severe shown: critical, major, minor, warning, indeterminate.") var severity: String?
    @Option(help: "How many to print (1-1000).") var limit = 100
    @Option(help: "Print this alarm with its history.") var show: Int64?
    @Option(help: "Acknowledge this alarm (with --comment, say why).") var ack: Int64?
    @Option(help: "Comment on this alarm (needs --comment).") var on: Int64?
    @Option(help: "The comment's text.") var comment: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            if let ack {
                try print(Self.describe(try await api.call("POST", "/api/alarms/\(ack)/acknowledge", body: AcknowledgeAlarmRequest(comment: comment), as: Alarm.self), json: client.json))
                return
            }
            if let on {
                guard let comment else { throw ValidationError("--on needs --comment TEXT") }
                try print(Self.describe(try await api.call("POST", "/api/alarms/\(on)/comments", body: CommentAlarmRequest(text: comment), as: Alarm.self), json: client.json))
                return
            }
            if let show {
                try print(Self.describe(try await api.call("GET", "/api/alarms/\(show)", as: Alarm.self), json: client.json))
                return
            }
            var query = ["limit=\(limit)"]
            if !all { query.append("state=active") }
            if let node { query.append("node=\(try await resolveNode(node, with: api))") }
            if let severity { query.append("severity=\(severity)") }
            let alarms = try await api.call("GET", "/api/alarms?" + query.joined(separator: "&"), as: AlarmPageResponse.self).value.alarms
            if client.json { return try printJSON(encoding: alarms) }
            printTable(["ID", "SEVERITY", "STATE", "NODE", "RAISED", "COUNT", "SUMMARY"], alarms.map { alarm in
                ["\(alarm.id)", alarm.severity.rawValue, alarm.state.rawValue, alarm.nodeName, alarm.raisedAt.formatted(.iso8601), "\(alarm.raiseCount)", alarm.summary]
            })
        }
    }

    /// An alarm and its history as lines, or the server's JSON.
    static func describe(_ reply: APIClient.Reply<Alarm>, json: Bool) throws -> String {
        if json {
            return String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: reply.data), options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
        }
        let alarm = reply.value
        var lines = ["alarm \(alarm.id) on \(alarm.nodeName): \(alarm.summary)",
                     "  \(alarm.severity.rawValue), \(alarm.state.rawValue), source \(alarm.source.rawValue), key \(alarm.key), raised \(alarm.raiseCount) time(s)"]
        if !alarm.details.isEmpty { lines.append("  details: \(alarm.details)") }
        for step in alarm.history ?? [] {
            let actor = step.actor.map { " by \($0)" } ?? ""
            let text = step.text.isEmpty ? "" : ": \(step.text)"
            lines.append("  \(step.time.formatted(.iso8601))  \(step.kind.rawValue)\(actor)\(text)")
        }
        return lines.joined(separator: "\n")
    }
}
