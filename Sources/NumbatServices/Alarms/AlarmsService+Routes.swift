import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `GET /api/alarms` (filters, cursor pagination), one alarm with its history, acknowledging
/// and commenting, and the built-in checks' thresholds. Bodies and pages are NumbatAPI's
/// types, the ones `numbat alarms` sends and reads.
extension AlarmsService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("alarms") { request, _ -> AlarmPageResponse in
            try await self.alarmPage({ request.uri.queryParameters[Substring($0)].map(String.init) })
        }
        api.get("alarms/thresholds") { _, _ -> AlarmThresholds in self.thresholds }
        api.put("alarms/thresholds") { request, context -> AlarmThresholds in
            let update = try await request.decodeStrict(as: AlarmThresholds.Update.self, context: context)
            let updated = try self.thresholds.updated(with: update)
            try await self.setThresholds(updated)
            return updated
        }
        api.get("alarms/:id") { _, context -> Alarm in
            let id = try Self.alarmID(context)
            guard let alarm = try await self.alarms.alarm(id: id) else { throw Self.notFound(id) }
            return alarm
        }
        api.post("alarms/:id/acknowledge") { request, context -> Alarm in
            let id = try Self.alarmID(context)
            let body = try await Self.optionalBody(request, context, as: AcknowledgeAlarmRequest.self) ?? AcknowledgeAlarmRequest()
            let change = try await self.alarms.acknowledgeAlarm(id: id, by: Self.actor(context), comment: body.comment ?? "", time: Date())
            self.bus.publish(.alarm(change))
            return try await self.alarms.alarm(id: id) ?? change.alarm
        }
        api.post("alarms/:id/comments") { request, context -> Alarm in
            let id = try Self.alarmID(context)
            let body = try await request.decodeStrict(as: CommentAlarmRequest.self, context: context)
            guard !body.text.isBlank else {
                throw NumbatError.badRequest("invalid_comment", "a comment needs some text")
            }
            let change = try await self.alarms.commentAlarm(id: id, by: Self.actor(context), text: body.text, time: Date())
            self.bus.publish(.alarm(change))
            return try await self.alarms.alarm(id: id) ?? change.alarm
        }
    }

    /// One page of alarms for the filters `parameter` gives (`query(from:)`): the REST route's
    /// answer, and the MCP `alarms` tool's.
    public func alarmPage(_ parameter: @escaping (String) -> String?) async throws -> AlarmPageResponse {
        let query = try await query(from: parameter)
        let found = try await alarms.alarms(query)
        return AlarmPageResponse(alarms: found, next: found.count == query.limit ? found.last?.id : nil)
    }

    private static func alarmID(_ context: NumbatRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            throw NumbatError.badRequest("invalid_alarm", "an alarm id is a number")
        }
        return id
    }

    private static func notFound(_ id: Int64) -> NumbatError { .notFound("alarm_not_found", "no alarm has id \(id)") }

    private static func actor(_ context: NumbatRequestContext) -> String { context.identity?.name ?? "unknown" }

    /// An acknowledgement may come without a body.
    private static func optionalBody<T: StrictJSONBody>(_ request: Request, _ context: NumbatRequestContext, as type: T.Type) async throws -> T? {
        if let length = request.headers[.contentLength].flatMap(Int.init), length == 0 { return nil }
        if request.headers[.contentLength] == nil, request.headers[.transferEncoding] == nil { return nil }
        return try await request.decodeStrict(as: type, context: context)
    }

    /// The filters of a request: node, family, state (new, acknowledged, cleared, or active for
    /// both of the first; comma-separated), severity (the least severe wanted), source, before
    /// (cursor), limit (1...1000, default 100).
    func query(from parameter: @escaping (String) -> String?) async throws -> AlarmQuery {
        let parameters = ListParameters(parameter: parameter)
        var query = AlarmQuery()
        query.nodes = try await parameters.nodes(in: store)
        if let text = parameter("state") {
            var states: Set<Alarm.State> = []
            for name in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                if name == "active" { states.formUnion([.new, .acknowledged]); continue }
                guard let state = Alarm.State(rawValue: name) else {
                    throw NumbatError.badRequest("invalid_state", "state must be active, new, acknowledged or cleared (comma-separated)")
                }
                states.insert(state)
            }
            query.states = states
        }
        query.severity = try parameters.choice("severity", Alarm.Severity.self)
        query.source = try parameters.choice("source", Alarm.Source.self)
        query.before = try parameters.cursor(of: "an alarm")
        query.limit = try parameters.limit() ?? query.limit
        return query
    }
}

extension Alarm: ResponseEncodable {}
extension AlarmPageResponse: ResponseEncodable {}
extension AcknowledgeAlarmRequest: StrictJSONBody {}
extension CommentAlarmRequest: StrictJSONBody {}
extension AlarmThresholds: ResponseEncodable {}
