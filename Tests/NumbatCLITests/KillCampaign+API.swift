import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The API's answers as the kill campaign reads them: its own small types, decoded the way any
/// client would (times kept as the text the server printed, so "unchanged" means byte for byte).
enum CampaignAPI {
    struct SeriesPage: Decodable {
        struct Series: Decodable {
            var node: String
            var metric: String
            var points: [Point]
            /// Every point at or before it is in the store (the server's word).
            var written_through: String?
        }
        struct Point: Decodable {
            var t: String
            var v: Double
        }
        var series: [Series]
    }

    struct Notification: Decodable, Equatable {
        var id: Int64
        var node_name: String
        var time: String
        var severity: String
        var source: String
        var message: String
    }

    struct NotificationPage: Decodable {
        var notifications: [Notification]
        var next: Int64?
    }

    struct Alarm: Decodable, Equatable {
        var id: Int64
        var key: String
        var node_name: String
        var state: String
        var raised_at: String
        var raise_count: Int
        var acknowledged_at: String?
        var acknowledged_by: String?
        var cleared_at: String?
    }

    struct AlarmPage: Decodable {
        var alarms: [Alarm]
        var next: Int64?
    }

    struct AuditEntry: Decodable, Equatable {
        var id: Int64
        var time: String
        var actor: String
        var node_name: String
        var command: String
        var outcome: String
        var result: String
    }

    struct AuditPage: Decodable {
        var entries: [AuditEntry]
        var next: Int64?
    }

    struct RPCAnswer: Decodable {
        var audit_id: Int64
    }

    struct Deployed: Decodable {
        var step: String
        var status: String
        var name: String?
        var message: String?
        var last_error: String?
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// GET and decode; a 200 or a `Failure` naming the path, the status and the answer.
    static func get<T: Decodable>(_ type: T.Type, _ base: String, _ path: String) async throws -> T {
        var request = URLRequest(url: URL(string: base + path)!)
        request.timeoutInterval = 60
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw Failure(description: "GET \(path): \(status) \(String(decoding: data.prefix(500), as: UTF8.self))") }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw Failure(description: "GET \(path): \(error): \(String(decoding: data.prefix(500), as: UTF8.self))")
        }
    }

    /// `get`, tried again for up to `attempts` times a second apart: the first requests after a
    /// restart may meet a connection the killed server left in the client's pool.
    static func read<T: Decodable>(_ type: T.Type, _ base: String, _ path: String, attempts: Int = 30) async throws -> T {
        var last: (any Error)?
        for attempt in 0..<attempts {
            do { return try await get(type, base, path) } catch {
                last = error
                if attempt + 1 < attempts { try await Task.sleep(for: .seconds(1)) }
            }
        }
        throw last!
    }

    /// Every page of a listing with a `before` cursor (newest first), down to the first item
    /// whose id is at most `downTo` (nil: to the end).
    static func pages<Page: Decodable, Item>(_ type: Page.Type, _ base: String, _ path: String, downTo: Int64? = nil,
                                             items: (Page) -> [Item], id: (Item) -> Int64, next: (Page) -> Int64?) async throws -> [Item] {
        var all: [Item] = []
        var before: Int64?
        while true {
            let separator = path.contains("?") ? "&" : "?"
            let page = try await read(type, base, path + separator + "limit=1000" + (before.map { "&before=\($0)" } ?? ""))
            let found = items(page)
            all += found
            if let downTo, let last = found.last, id(last) <= downTo { break }
            guard let cursor = next(page) else { break }
            before = cursor
        }
        return all
    }
}
