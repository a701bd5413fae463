import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NumbatAPI
import NumbatCore

/// `numbat logs`: the newest notifications, and with `--follow` every new one as it arrives.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Notifications: log events collected from the nodes and Numbat's own.",
        discussion: "Newest last. --follow keeps printing new ones as the server pushes them (Ctrl-C to stop).")

    @Option(help: "Only this node (id or name).") var node: String?
    @Option(help: "The least severe level shown: emergency, alert, critical, error, warning, notice, info, debug.") var severity: String?
    @Option(help: "Text the message contains.") var grep: String?
    @Option(help: "How many of the newest to print first (1-1000).") var limit = 50
    @Flag(help: "Keep printing new notifications as they arrive.") var follow = false
    @Option(help: .hidden) var followCount: Int?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            var id: String?
            if let node { id = try await resolveNode(node, with: api) }
            var query = ["limit=\(limit)"]
            if let id { query.append("node=\(id)") }
            if let severity { query.append("severity=\(severity)") }
            if let grep { query.append("q=\(grep.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? grep)") }
            let newest = try await api.call("GET", "/api/notifications?" + query.joined(separator: "&"), as: NotificationPageResponse.self).value.notifications
            for notification in newest.reversed() { print(Self.line(notification, json: client.json)) }
            guard follow else { return }
            let url = api.webSocketURL("/api/ws")
            let filter = Self.filter(severity: severity, text: grep)
            let json = client.json
            let limit = followCount
            let request = String(decoding: try APICoding.encoder().encode(SubscribeRequest(topics: ["notification"], nodes: id.map { [$0] })), as: UTF8.self)
            try await WebSocketClient.connect(url: url, logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
                try await outbound.write(.text(request))
                var seen = 0
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message,
                          let event = try? APICoding.decoder().decode(EventMessageBody.self, from: Data(text.utf8)),
                          event.type == "notification", let notification = event.notification, filter(notification)
                    else { continue }
                    print(Self.line(notification, json: json))
                    // At once, also into a pipe (`numbat logs --follow | grep ...`).
                    fflush(nil)
                    seen += 1
                    if let limit, seen >= limit { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
    }

    /// `2026-12-01T10:00:00Z  error    app@host  message`, or the JSON object.
    static func line(_ notification: NodeNotification, json: Bool) -> String {
        if json, let data = try? APICoding.encoder().encode(notification) {
            return String(decoding: data, as: UTF8.self)
        }
        let severity = notification.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        return "\(notification.time.formatted(.iso8601))  \(severity) \(notification.nodeName)  \(notification.message)"
    }

    /// The same filters the server applies to a page, for pushed notifications.
    static func filter(severity: String?, text: String?) -> @Sendable (NodeNotification) -> Bool {
        let limit = severity.flatMap(NodeNotification.Severity.init(rawValue:))
        return { notification in
            (limit.map { notification.severity.rank <= $0.rank } ?? true)
                && (text.map { notification.message.localizedCaseInsensitiveContains($0) } ?? true)
        }
    }
}
