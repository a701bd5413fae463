import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `GET /api/notifications` (filters, cursor pagination) and a node's level,
/// `GET/PUT /api/notifications/nodes/{id}/level`. Bodies and answers are NumbatAPI's types,
/// the ones `numbat logs` reads.
extension NotificationsService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        api.get("notifications") { request, _ -> NotificationPageResponse in
            try await self.notificationPage({ request.uri.queryParameters[Substring($0)].map(String.init) })
        }
        api.get("notifications/nodes/:id/level") { _, context -> NotificationLevelResponse in
            let id = try await self.requireNode(context)
            return NotificationLevelResponse(node: id, level: self.level(for: id))
        }
        api.put("notifications/nodes/:id/level") { request, context -> NotificationLevelResponse in
            let id = try await self.requireNode(context)
            let body = try await request.decodeStrict(as: SetNotificationLevelRequest.self, context: context)
            guard let level = NodeNotification.Severity(rawValue: body.level) else {
                throw NumbatError.badRequest("invalid_level", "level must be one of \(NodeNotification.Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await self.setLevel(level, for: id)
            return NotificationLevelResponse(node: id, level: level)
        }
    }

    /// One page of notifications for the filters `parameter` gives (`query(from:)`): the REST
    /// route's answer, and the MCP `notifications` tool's.
    public func notificationPage(_ parameter: @escaping (String) -> String?) async throws -> NotificationPageResponse {
        let query = try await query(from: parameter)
        let found = try await notifications.notifications(query)
        return NotificationPageResponse(notifications: found, next: found.count == query.limit ? found.last?.id : nil)
    }

    private func requireNode(_ context: NumbatRequestContext) async throws -> UUID {
        let id = try context.parameters.require("id", as: UUID.self)
        guard try await store.node(id: id) != nil else {
            throw NumbatError.notFound("node_not_found", "no managed node has id \(id.uuidString.lowercased())")
        }
        return id
    }

    /// The filters of a request: node, family, severity (the least severe wanted), from, to
    /// (RFC 3339 or Unix seconds), q (text), before (cursor), limit (1...1000, default 100).
    func query(from parameter: @escaping (String) -> String?) async throws -> NotificationQuery {
        let parameters = ListParameters(parameter: parameter)
        var query = NotificationQuery()
        query.nodes = try await parameters.nodes(in: store)
        query.severity = try parameters.choice("severity", NodeNotification.Severity.self)
        for (name, set) in [("from", { (date: Date) in query.from = date }), ("to", { (date: Date) in query.to = date })] as [(String, (Date) -> Void)] {
            guard let text = parameter(name) else { continue }
            if let seconds = Double(text) {
                set(Date(timeIntervalSince1970: seconds))
            } else if let date = try? Date(text, strategy: .iso8601) {
                set(date)
            } else {
                throw NumbatError.badRequest("invalid_time", "\(name) must be an RFC 3339 time or Unix seconds")
            }
        }
        query.text = parameter("q")
        query.before = try parameters.cursor(of: "a notification")
        query.limit = try parameters.limit() ?? query.limit
        return query
    }
}

extension NodeNotification: ResponseEncodable {}
extension NotificationPageResponse: ResponseEncodable {}
extension NotificationLevelResponse: ResponseEncodable {}
extension SetNotificationLevelRequest: StrictJSONBody {}
