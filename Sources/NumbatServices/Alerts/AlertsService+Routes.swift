import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `/api/alerts/`: rules and receivers (create, list, read, replace, delete), a receiver's test
/// alert, and the delivery queue. Changes to rules and receivers go to the audit log; secrets
/// go into the store sealed and come back only as `********`.
extension AlertsService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("alerts/rules") { _, _ -> AlertRuleListResponse in AlertRuleListResponse(rules: try await self.store.alertRules()) }
        api.post("alerts/rules") { request, context -> EditedResponse<AlertRule> in
            let body = try await request.decodeStrict(as: AlertRuleRequest.self, context: context)
            let rule = try await self.validated(body, id: UUID(), createdAt: Date())
            try await self.store.putAlertRule(rule)
            try await self.audit(context, "alert rule create \(rule.name) (\(rule.id))")
            return EditedResponse(status: .created, response: rule)
        }
        api.get("alerts/rules/:id") { _, context -> AlertRule in try await self.rule(Self.id(context, "rule")) }
        api.put("alerts/rules/:id") { request, context -> AlertRule in
            let existing = try await self.rule(Self.id(context, "rule"))
            let body = try await request.decodeStrict(as: AlertRuleRequest.self, context: context)
            let rule = try await self.validated(body, id: existing.id, createdAt: existing.createdAt)
            try await self.store.putAlertRule(rule)
            try await self.audit(context, "alert rule update \(rule.name) (\(rule.id))")
            return rule
        }
        api.delete("alerts/rules/:id") { _, context -> AlertRule in
            let rule = try await self.rule(Self.id(context, "rule"))
            _ = try await self.store.deleteAlertRule(id: rule.id)
            try await self.audit(context, "alert rule delete \(rule.name) (\(rule.id))")
            return rule
        }

        api.get("alerts/receivers") { _, _ -> AlertReceiverListResponse in
            var shown: [AlertReceiverResponse] = []
            for receiver in try await self.store.alertReceivers() { shown.append(try await self.shown(receiver)) }
            return AlertReceiverListResponse(receivers: shown)
        }
        api.post("alerts/receivers") { request, context -> EditedResponse<AlertReceiverResponse> in
            let body = try await request.decodeStrict(as: AlertReceiverRequest.self, context: context)
            let receiver = try Self.validated(body, id: UUID(), createdAt: Date(), hasSecret: false)
            try await self.store.putAlertReceiver(receiver)
            if let secret = body.secret { try await self.store.setAlertReceiverSecret(id: receiver.id, secret: secret) }
            try await self.audit(context, "alert receiver create \(receiver.name) (\(receiver.kind.rawValue), \(receiver.id))")
            return EditedResponse(status: .created, response: try await self.shown(receiver))
        }
        api.get("alerts/receivers/:id") { _, context -> AlertReceiverResponse in
            try await self.shown(try await self.receiver(Self.id(context, "receiver")))
        }
        api.put("alerts/receivers/:id") { request, context -> AlertReceiverResponse in
            let existing = try await self.receiver(Self.id(context, "receiver"))
            let body = try await request.decodeStrict(as: AlertReceiverRequest.self, context: context)
            let hasSecret = try await self.store.alertReceiverSecret(id: existing.id) != nil
            let receiver = try Self.validated(body, id: existing.id, createdAt: existing.createdAt, hasSecret: hasSecret)
            try await self.store.putAlertReceiver(receiver)
            if let secret = body.secret { try await self.store.setAlertReceiverSecret(id: receiver.id, secret: secret.isEmpty ? nil : secret) }
            try await self.audit(context, "alert receiver update \(receiver.name) (\(receiver.kind.rawValue), \(receiver.id))"
                                 + (body.secret == nil ? "" : ", secret replaced"))
            return try await self.shown(receiver)
        }
        api.delete("alerts/receivers/:id") { _, context -> AlertReceiverResponse in
            let receiver = try await self.receiver(Self.id(context, "receiver"))
            let users = try await self.store.alertRules().filter { $0.receivers.contains(receiver.id) }.map(\.name)
            guard users.isEmpty else {
                throw NumbatError.conflict("receiver_in_use", "receiver \(receiver.name) is used by rule(s) \(users.joined(separator: ", ")); change them first")
            }
            let shown = try await self.shown(receiver)
            _ = try await self.store.deleteAlertReceiver(id: receiver.id)
            try await self.audit(context, "alert receiver delete \(receiver.name) (\(receiver.id))")
            return shown
        }
        api.post("alerts/receivers/:id/test") { _, context -> AlertDelivery in
            let receiver = try await self.receiver(Self.id(context, "receiver"))
            let delivery = try await self.test(receiver)
            try await self.audit(context, "alert receiver test \(receiver.name) (\(receiver.id))", outcome: delivery.status == .delivered ? .ok : .error,
                                 result: delivery.lastError ?? delivery.status.rawValue)
            return delivery
        }

        api.get("alerts/deliveries") { request, _ -> AlertDeliveryListResponse in
            let parameter = { (name: String) in request.uri.queryParameters[Substring(name)].map(String.init) }
            let parameters = ListParameters(parameter: parameter)
            var query = AlertDeliveryQuery()
            if let text = parameter("receiver") {
                guard let id = UUID(uuidString: text) else { throw NumbatError.badRequest("invalid_receiver", "receiver must be a receiver id") }
                query.receiverID = id
            }
            if let text = parameter("alarm") {
                guard let id = Int64(text) else { throw NumbatError.badRequest("invalid_alarm", "alarm must be an alarm id (a number)") }
                query.alarmID = id
            }
            if let text = parameter("status") {
                var statuses: Set<AlertDelivery.Status> = []
                for name in text.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let status = AlertDelivery.Status(rawValue: String(name)) else {
                        throw NumbatError.badRequest("invalid_status", "status must be \(AlertDelivery.Status.allCases.map(\.rawValue).joined(separator: ", ")) (comma-separated)")
                    }
                    statuses.insert(status)
                }
                query.statuses = statuses
            }
            query.limit = try parameters.limit() ?? query.limit
            return AlertDeliveryListResponse(deliveries: try await self.store.alertDeliveries(query))
        }
    }

    private static func id(_ context: NumbatRequestContext, _ what: String) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw NumbatError.badRequest("invalid_\(what)", "a \(what) id is a UUID")
        }
        return id
    }

    private func rule(_ id: UUID) async throws -> AlertRule {
        guard let rule = try await store.alertRules().first(where: { $0.id == id }) else {
            throw NumbatError.notFound("rule_not_found", "no alert rule has id \(id)")
        }
        return rule
    }

    private func receiver(_ id: UUID) async throws -> AlertReceiver {
        guard let receiver = try await store.alertReceivers().first(where: { $0.id == id }) else {
            throw NumbatError.notFound("receiver_not_found", "no alert receiver has id \(id)")
        }
        return receiver
    }

    private func shown(_ receiver: AlertReceiver) async throws -> AlertReceiverResponse {
        AlertReceiverResponse(receiver: receiver, hasSecret: try await store.alertReceiverSecret(id: receiver.id) != nil)
    }

    /// A rule change as the audit log keeps admin changes: who, when, what (no node).
    private func audit(_ context: NumbatRequestContext, _ command: String, outcome: AuditEntry.Outcome = .ok, result: String = "") async throws {
        _ = try await store.appendAudit(AuditEntry(time: Date(), actor: context.identity?.name ?? "unknown", nodeID: nil, nodeName: "",
                                                   command: command, outcome: outcome, result: result, durationMilliseconds: 0))
    }

    private func validated(_ body: AlertRuleRequest, id: UUID, createdAt: Date) async throws -> AlertRule {
        guard !body.name.isBlank else { throw NumbatError.invalidField("name", "must not be empty") }
        guard !body.receivers.isEmpty else { throw NumbatError.invalidField("receivers", "must name at least one receiver") }
        let known = Set(try await store.alertReceivers().map(\.id))
        if let unknown = body.receivers.first(where: { !known.contains($0) }) {
            throw NumbatError(.unprocessable, "receiver_not_found", "no alert receiver has id \(unknown)")
        }
        let minimum = body.minimumDurationSeconds ?? 0
        guard minimum >= 0, minimum <= 86_400 * 7 else { throw NumbatError.invalidField("minimum_duration_seconds", "must be 0 to 604800") }
        if let interval = body.repeatIntervalSeconds, !(interval >= 1 && interval <= 86_400 * 30) {
            throw NumbatError.invalidField("repeat_interval_seconds", "must be 1 to 2592000 (or absent: no repeat)")
        }
        let events = body.events ?? AlertRule.Event.allCases
        guard !events.isEmpty else { throw NumbatError.invalidField("events", "must name at least one of raised, acknowledged, cleared") }
        if let key = body.keys?.first(where: \.isEmpty) { throw NumbatError.invalidField("keys", "has an empty pattern '\(key)'") }
        return AlertRule(id: id, name: body.name, enabled: body.enabled ?? true, minimumSeverity: body.minimumSeverity, keys: body.keys ?? [],
                         nodes: body.nodes ?? [], families: body.families ?? [], events: events, minimumDurationSeconds: minimum,
                         repeatIntervalSeconds: body.repeatIntervalSeconds, receivers: body.receivers, createdAt: createdAt)
    }

    static func validated(_ body: AlertReceiverRequest, id: UUID, createdAt: Date, hasSecret: Bool) throws -> AlertReceiver {
        guard !body.name.isBlank else { throw NumbatError.invalidField("name", "must not be empty") }
        let secret = body.secret.map { !$0.isEmpty } ?? hasSecret
        if let port = body.smtpPort, !(1...65535).contains(port) { throw NumbatError.invalidField("smtp_port", "must be 1 to 65535") }
        switch body.kind {
        case .webhook, .alertmanager:
            guard let text = body.url, let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw NumbatError.invalidField("url", "must be an http(s) URL for a \(body.kind.rawValue) receiver")
            }
            if body.kind == .webhook, !secret {
                throw NumbatError.invalidField("secret", "is required for a webhook: the HMAC-SHA256 key its alerts are signed with")
            }
        case .email:
            guard let host = body.smtpHost, !host.isBlank else { throw NumbatError.invalidField("smtp_host", "is required for an email receiver") }
            guard let from = body.from, from.contains("@") else { throw NumbatError.invalidField("from", "must be an email address") }
            guard let to = body.to, !to.isEmpty, to.allSatisfy({ $0.contains("@") && !$0.contains(">") && !$0.contains("\n") }) else {
                throw NumbatError.invalidField("to", "must list at least one email address")
            }
            if from.contains(">") || from.contains("\n") { throw NumbatError.invalidField("from", "must be an email address") }
            if body.smtpUser != nil, !secret { throw NumbatError.invalidField("secret", "is required with smtp_user: the SMTP password") }
        }
        return AlertReceiver(id: id, name: body.name, kind: body.kind, url: body.url, smtpHost: body.smtpHost,
                             smtpPort: body.kind == .email ? (body.smtpPort ?? 587) : nil,
                             smtpSecurity: body.kind == .email ? (body.smtpSecurity ?? .starttls) : nil, smtpCA: body.smtpCA,
                             smtpUser: body.smtpUser, from: body.from, to: body.to ?? [], createdAt: createdAt)
    }
}

extension AlertRule: ResponseEncodable {}
extension AlertDelivery: ResponseEncodable {}
extension AlertReceiverResponse: ResponseEncodable {}
extension AlertRuleListResponse: ResponseEncodable {}
extension AlertReceiverListResponse: ResponseEncodable {}
extension AlertDeliveryListResponse: ResponseEncodable {}
extension AlertRuleRequest: StrictJSONBody {}
extension AlertReceiverRequest: StrictJSONBody {}
