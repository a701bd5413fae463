import ArgumentParser
import Foundation

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
                let body: [String: Any]? = comment.map { ["comment": $0] }
                try print(Self.describe(try await api.json("POST", "/api/alarms/\(ack)/acknowledge", body: body ?? [:]), json: client.json))
                return
            }
            if let on {
                guard let comment else { throw ValidationError("--on needs --comment TEXT") }
                try print(Self.describe(try await api.json("POST", "/api/alarms/\(on)/comments", body: ["text": comment]), json: client.json))
                return
            }
            if let show {
                try print(Self.describe(try await api.json("GET", "/api/alarms/\(show)"), json: client.json))
                return
            }
            var query = ["limit=\(limit)"]
            if !all { query.append("state=active") }
            if let node { query.append("node=\(try await resolveNode(node, with: api))") }
            if let severity { query.append("severity=\(severity)") }
            let page = try await api.json("GET", "/api/alarms?" + query.joined(separator: "&"))
            let alarms = page["alarms"] as? [[String: Any]] ?? []
            if client.json { return try printJSON(alarms) }
            printTable(["ID", "SEVERITY", "STATE", "NODE", "RAISED", "COUNT", "SUMMARY"], alarms.map { alarm in
                ["\(alarm["id"] ?? "")", alarm["severity"] as? String ?? "", alarm["state"] as? String ?? "",
                 alarm["node_name"] as? String ?? "", alarm["raised_at"] as? String ?? "", "\(alarm["raise_count"] ?? "")",
                 alarm["summary"] as? String ?? ""]
            })
        }
    }

    /// An alarm and its history as lines, or its JSON.
    static func describe(_ alarm: [String: Any], json: Bool) throws -> String {
        if json {
            return String(decoding: try JSONSerialization.data(withJSONObject: alarm, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
        }
        var lines = ["alarm \(alarm["id"] ?? "") on \(alarm["node_name"] as? String ?? "-"): \(alarm["summary"] as? String ?? "")",
                     "  \(alarm["severity"] as? String ?? "-"), \(alarm["state"] as? String ?? "-"), source \(alarm["source"] as? String ?? "-"), key \(alarm["key"] as? String ?? "-"), raised \(alarm["raise_count"] ?? 1) time(s)"]
        if let details = alarm["details"] as? String, !details.isEmpty { lines.append("  details: \(details)") }
        for step in alarm["history"] as? [[String: Any]] ?? [] {
            let actor = (step["actor"] as? String).map { " by \($0)" } ?? ""
            let text = (step["text"] as? String).flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
            lines.append("  \(step["time"] as? String ?? "-")  \(step["kind"] as? String ?? "-")\(actor)\(text)")
        }
        return lines.joined(separator: "\n")
    }
}
