import Foundation
import NumbatCore

/// `GET /api/notifications`: newest first; `next` is the `before` of the next (older) page,
/// absent on the last one.
public struct NotificationPageResponse: Codable, Sendable, Equatable {
    public var notifications: [NodeNotification]
    public var next: Int64?

    public init(notifications: [NodeNotification], next: Int64?) {
        self.notifications = notifications
        self.next = next
    }
}

/// `PUT /api/notifications/nodes/{id}/level`. The level is text so that an unknown one is
/// refused as `invalid_level`, listing the levels, rather than as a malformed body.
public struct SetNotificationLevelRequest: Codable, Sendable, Equatable {
    public var level: String

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["level"]

    public init(level: String) { self.level = level }
}

/// A node's notification level (`GET`/`PUT /api/notifications/nodes/{id}/level`): the least
/// severe log event its collector forwards.
public struct NotificationLevelResponse: Codable, Sendable, Equatable {
    public var node: UUID
    public var level: NodeNotification.Severity

    public init(node: UUID, level: NodeNotification.Severity) {
        self.node = node
        self.level = level
    }
}
