import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `POST /api/trace/sessions` (admin) starts a session; `GET /api/trace/sessions`,
/// `GET .../{id}` and `GET .../{id}/events` read them (running or ended); `DELETE .../{id}`
/// (admin) stops one. Events also arrive on the WebSocket, topic `trace`.
extension TracingService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.post("trace/sessions") { request, context -> EditedResponse<TraceSession> in
            try context.requireAdmin()
            let body = try await request.decodeStrict(as: StartTraceRequest.self, context: context)
            return EditedResponse(status: .created, response: try await self.start(body, actor: context.identity?.name ?? "unknown"))
        }
        api.get("trace/sessions") { request, _ -> TraceSessionListResponse in
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            return TraceSessionListResponse(sessions: try await self.sessions(limit: try parameters.limit() ?? 50))
        }
        api.get("trace/sessions/:id") { _, context -> TraceSession in
            try await self.session(id: try context.parameters.require("id", as: UUID.self))
        }
        api.get("trace/sessions/:id/events") { request, context -> TraceEventPageResponse in
            let id = try context.parameters.require("id", as: UUID.self)
            let parameters = ListParameters(parameter: { request.uri.queryParameters[Substring($0)].map(String.init) })
            var after: Int64?
            if let text = request.uri.queryParameters["after"] {
                guard let cursor = Int64(text), cursor >= 0 else { throw NumbatError.badRequest("invalid_cursor", "after must be an event id") }
                after = cursor
            }
            return try await self.events(session: id, after: after, limit: try parameters.limit() ?? 100)
        }
        api.delete("trace/sessions/:id") { _, context -> TraceSession in
            try context.requireAdmin()
            return try await self.stop(session: try context.parameters.require("id", as: UUID.self))
        }
    }
}

extension StartTraceRequest: StrictJSONBody {}
extension TraceSession: ResponseEncodable {}
extension TraceSessionListResponse: ResponseEncodable {}
extension TraceEventPageResponse: ResponseEncodable {}
