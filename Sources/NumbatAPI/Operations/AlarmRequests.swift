import Foundation
import NumbatCore

/// `GET /api/alarms`: newest first; `next` is the `before` of the next (older) page, absent on
/// the last one.
public struct AlarmPageResponse: Codable, Sendable, Equatable {
    public var alarms: [Alarm]
    public var next: Int64?

    public init(alarms: [Alarm], next: Int64?) {
        self.alarms = alarms
        self.next = next
    }
}

/// `POST /api/alarms/{id}/acknowledge`, with why (the body is optional).
public struct AcknowledgeAlarmRequest: Codable, Sendable, Equatable {
    public var comment: String?

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["comment"]

    public init(comment: String? = nil) { self.comment = comment }
}

/// `POST /api/alarms/{id}/comments`.
public struct CommentAlarmRequest: Codable, Sendable, Equatable {
    public var text: String

    /// The fields the server accepts: any other is a 400 naming it.
    public static let allowedFields: Set<String> = ["text"]

    public init(text: String) { self.text = text }
}
