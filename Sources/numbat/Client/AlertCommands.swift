import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat alert`: alert routing's rules and receivers, a receiver's test alert, and the
/// delivery queue (docs/alerts.md).
struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert",
        abstract: "Alert routing: send alarms to webhooks, Alertmanager and email.",
        discussion: """
            numbat alert receiver add hook --kind webhook --url https://hooks.example/numbat --secret-env HOOK_KEY
            numbat alert receiver add am --kind alertmanager --url http://alertmanager:9093
            numbat alert receiver add ops --kind email --smtp-host smtp.example --smtp-user numbat --secret-file pw.txt \\
                --from numbat@example.org --to ops@example.org
            numbat alert rule add majors --receiver hook --receiver am --severity major --min-duration 60 --repeat 3600
            numbat alert test hook
            numbat alert deliveries --status failed,pending
            """,
        subcommands: [AlertRuleCommand.self, AlertReceiverCommand.self, AlertTestCommand.self, AlertDeliveriesCommand.self])

    /// A receiver's id from its id or name.
    static func receiverID(_ text: String, with api: APIClient) async throws -> UUID {
        let receivers = try await api.call("GET", "/api/alerts/receivers", as: AlertReceiverListResponse.self).value.receivers.map(\.receiver)
        if let id = UUID(uuidString: text), receivers.contains(where: { $0.id == id }) { return id }
        let named = receivers.filter { $0.name == text }
        guard named.count == 1 else {
            throw ValidationError(named.isEmpty ? "no alert receiver is named or has id \(text)" : "several receivers are named \(text): use the id")
        }
        return named[0].id
    }

    /// A rule's id from its id or name.
    static func ruleID(_ text: String, with api: APIClient) async throws -> UUID {
        let rules = try await api.call("GET", "/api/alerts/rules", as: AlertRuleListResponse.self).value.rules
        if let id = UUID(uuidString: text), rules.contains(where: { $0.id == id }) { return id }
        let named = rules.filter { $0.name == text }
        guard named.count == 1 else { throw ValidationError(named.isEmpty ? "no alert rule is named or has id \(text)" : "several rules are named \(text): use the id") }
        return named[0].id
    }
}

struct AlertRuleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rule", abstract: "List, add, replace or remove alert rules.",
                                                    subcommands: [List.self, Add.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The rules, oldest first.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let rules = try await client.client().call("GET", "/api/alerts/rules", as: AlertRuleListResponse.self).value.rules
                if client.json { return try printJSON(encoding: rules) }
                printTable(["ID", "NAME", "ON", "SEVERITY", "KEYS", "NODES", "EVENTS", "MIN", "REPEAT", "RECEIVERS"], rules.map { rule in
                    [rule.id.uuidString, rule.name, rule.enabled ? "yes" : "no", rule.minimumSeverity?.rawValue ?? "any",
                     rule.keys.isEmpty ? "*" : rule.keys.joined(separator: ","), rule.nodes.isEmpty ? "*" : rule.nodes.joined(separator: ","),
                     rule.events.map(\.rawValue).joined(separator: ","), "\(Int(rule.minimumDurationSeconds))s",
                     rule.repeatIntervalSeconds.map { "\(Int($0))s" } ?? "-", "\(rule.receivers.count)"]
                })
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a rule (or replace one with --replace).")
        @Argument(help: "The rule's name.") var name: String
        @Option(name: .customLong("receiver"), help: "A receiver (id or name); repeat for several.") var receivers: [String] = []
        @Option(help: "The least severe alarm sent: critical, major, minor, warning, indeterminate.") var severity: Alarm.Severity?
        @Option(name: .customLong("key"), help: "An alarm key or pattern with * (sasl:*); repeat for several.") var keys: [String] = []
        @Option(name: .customLong("node"), help: "A node name; repeat for several.") var nodes: [String] = []
        @Option(name: .customLong("family"), help: "A family id; repeat for several.") var families: [String] = []
        @Option(name: .customLong("event"), help: "raised, acknowledged or cleared; repeat (default: all three).") var events: [AlertRule.Event] = []
        @Option(help: "Seconds an alarm must last before it is sent.") var minDuration: Double?
        @Option(help: "Seconds between sends while an alarm stays raised.") var `repeat`: Double?
        @Flag(help: "Add it disabled.") var disabled = false
        @Option(help: "Replace this rule (id or name) instead of adding one.") var replace: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                var ids: [UUID] = []
                for receiver in receivers { ids.append(try await AlertCommand.receiverID(receiver, with: api)) }
                let familyIDs = try families.map { text -> UUID in
                    guard let id = UUID(uuidString: text) else { throw ValidationError("--family takes a family id") }
                    return id
                }
                let body = AlertRuleRequest(name: name, enabled: !disabled, minimumSeverity: severity, keys: keys, nodes: nodes, families: familyIDs,
                                            events: events.isEmpty ? nil : events, minimumDurationSeconds: minDuration,
                                            repeatIntervalSeconds: `repeat`, receivers: ids)
                let rule: AlertRule
                if let replace {
                    rule = try await api.call("PUT", "/api/alerts/rules/\(try await AlertCommand.ruleID(replace, with: api))", body: body, as: AlertRule.self).value
                } else {
                    rule = try await api.call("POST", "/api/alerts/rules", body: body, as: AlertRule.self).value
                }
                if client.json { return try printJSON(encoding: rule) }
                print("rule \(rule.name): \(rule.id)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a rule.")
        @Argument(help: "The rule's id or name.") var rule: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let removed = try await api.call("DELETE", "/api/alerts/rules/\(try await AlertCommand.ruleID(rule, with: api))", as: AlertRule.self).value
                print("removed rule \(removed.name)")
            }
        }
    }
}

struct AlertReceiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "receiver", abstract: "List, add, replace or remove alert receivers.",
                                                    subcommands: [List.self, Add.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The receivers, oldest first (secrets masked).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let receivers = try await client.client().call("GET", "/api/alerts/receivers", as: AlertReceiverListResponse.self).value.receivers
                if client.json { return try printJSON(encoding: receivers) }
                printTable(["ID", "NAME", "KIND", "WHERE", "SECRET"], receivers.map { shown in
                    let receiver = shown.receiver
                    let place = receiver.kind == .email ? "\(receiver.smtpHost ?? ""):\(receiver.smtpPort ?? 587) -> \(receiver.to.joined(separator: ","))" : receiver.url ?? ""
                    return [receiver.id.uuidString, receiver.name, receiver.kind.rawValue, place, shown.secret ?? "-"]
                })
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a receiver (or replace one with --replace).",
            discussion: "The secret (a webhook's HMAC key, the SMTP password) is read from an environment variable or a file, never from the command line, where other users could see it.")
        @Argument(help: "The receiver's name.") var name: String
        @Option(help: "webhook, alertmanager or email.") var kind: AlertReceiver.Kind
        @Option(help: "The webhook's URL, or Alertmanager's base URL.") var url: String?
        @Option(help: "Email: the SMTP server.") var smtpHost: String?
        @Option(help: "Email: its port (587).") var smtpPort: Int?
        @Option(help: "Email: starttls (required, the default) or none.") var smtpSecurity: AlertReceiver.SMTPSecurity?
        @Option(help: "Email: a PEM file of the CA that signs the server's certificate.") var smtpCAFile: String?
        @Option(help: "Email: the user to AUTH as (the password is the secret).") var smtpUser: String?
        @Option(help: "Email: the sender.") var from: String?
        @Option(name: .customLong("to"), help: "Email: a recipient; repeat for several.") var to: [String] = []
        @Option(help: "The environment variable holding the secret.") var secretEnv: String?
        @Option(help: "The file holding the secret (its first line).") var secretFile: String?
        @Option(help: "Replace this receiver (id or name) instead of adding one; without a secret option, its secret is kept.") var replace: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                var secret: String?
                if let secretEnv {
                    guard let value = ProcessInfo.processInfo.environment[secretEnv] else { throw ValidationError("\(secretEnv) is not set") }
                    secret = value
                }
                if let secretFile {
                    secret = try String(contentsOfFile: secretFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                }
                let ca = try smtpCAFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
                let body = AlertReceiverRequest(name: name, kind: kind, url: url, smtpHost: smtpHost, smtpPort: smtpPort, smtpSecurity: smtpSecurity,
                                                smtpCA: ca, smtpUser: smtpUser, from: from, to: to.isEmpty ? nil : to, secret: secret)
                let receiver: AlertReceiverResponse
                if let replace {
                    receiver = try await api.call("PUT", "/api/alerts/receivers/\(try await AlertCommand.receiverID(replace, with: api))", body: body,
                                                  as: AlertReceiverResponse.self).value
                } else {
                    receiver = try await api.call("POST", "/api/alerts/receivers", body: body, as: AlertReceiverResponse.self).value
                }
                if client.json { return try printJSON(encoding: receiver) }
                print("receiver \(receiver.receiver.name): \(receiver.receiver.id)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a receiver no rule uses.")
        @Argument(help: "The receiver's id or name.") var receiver: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let api = client.client()
                let id = try await AlertCommand.receiverID(receiver, with: api)
                let removed = try await api.call("DELETE", "/api/alerts/receivers/\(id)", as: AlertReceiverResponse.self).value
                print("removed receiver \(removed.receiver.name)")
            }
        }
    }
}

struct AlertTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test", abstract: "Send a receiver a test alert now and say how it went.")
    @Argument(help: "The receiver's id or name.") var receiver: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            let delivery = try await api.call("POST", "/api/alerts/receivers/\(try await AlertCommand.receiverID(receiver, with: api))/test",
                                              body: [String: String](), as: AlertDelivery.self).value
            if client.json { return try printJSON(encoding: delivery) }
            guard delivery.status == .delivered else { throw ValidationError("not delivered: \(delivery.lastError ?? delivery.status.rawValue)") }
            print("delivered (\(delivery.id))")
        }
    }
}

struct AlertDeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deliveries", abstract: "The delivery queue, newest first: status, attempts, last error.")
    @Option(help: "Only this receiver (id or name).") var receiver: String?
    @Option(help: "Only this alarm.") var alarm: Int64?
    @Option(help: "Only these statuses (comma-separated): pending, sending, delivered, failed, suppressed.") var status: String?
    @Option(help: "How many (1-1000).") var limit = 100
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            var query = ["limit=\(limit)"]
            if let receiver { query.append("receiver=\(try await AlertCommand.receiverID(receiver, with: api))") }
            if let alarm { query.append("alarm=\(alarm)") }
            if let status { query.append("status=\(status)") }
            let deliveries = try await api.call("GET", "/api/alerts/deliveries?" + query.joined(separator: "&"), as: AlertDeliveryListResponse.self).value.deliveries
            if client.json { return try printJSON(encoding: deliveries) }
            printTable(["ALARM", "EVENT", "RECEIVER", "STATUS", "ATTEMPTS", "NEXT/DELIVERED", "LAST ERROR"], deliveries.map { delivery in
                ["\(delivery.alarmID)", delivery.notice.event.rawValue, String(delivery.receiverID.uuidString.prefix(8)), delivery.status.rawValue,
                 "\(delivery.attempts)", (delivery.deliveredAt ?? delivery.nextAttemptAt).formatted(.iso8601), delivery.lastError ?? ""]
            })
        }
    }
}

extension Alarm.Severity: ExpressibleByArgument {}
extension AlertRule.Event: ExpressibleByArgument {}
extension AlertReceiver.Kind: ExpressibleByArgument {}
extension AlertReceiver.SMTPSecurity: ExpressibleByArgument {}
