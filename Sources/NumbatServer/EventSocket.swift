import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NumbatCore
import NumbatServices

/// `GET /api/ws`: pushes events as JSON text frames, filtered by the client's subscription.
/// Authentication ran before the upgrade (the router's middleware covers this route).
enum EventSocket {
    static func addRoute(to router: Router<NumbatRequestContext>, bus: EventBus) {
        router.ws("api/ws") { _, context in
            context.identity == nil ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, _ in
            let filter = NIOLockedValueBox(SubscriptionFilter.everything)
            let events = bus.subscribe()
            try await outbound.write(.text(#"{"type":"hello","topics":["node","family","agent","notification","alarm"]}"#))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 64 << 10) {
                        guard case .text(let text) = message else { continue }
                        guard let request = try? JSONDecoder().decode(SubscriptionFilter.Request.self, from: Data(text.utf8)) else {
                            try await outbound.write(.text(#"{"type":"error","message":"expected {\"subscribe\": {\"topics\": [...], \"nodes\": [...]}}"}"#))
                            continue
                        }
                        filter.withLockedValue { $0 = request.subscribe }
                        let ack = try EventMessage.encoder.encode(["type": "subscribed"])
                        try await outbound.write(.text(String(decoding: ack, as: UTF8.self)))
                    }
                }
                group.addTask {
                    for await event in events where filter.withLockedValue({ $0.matches(event) }) {
                        try await outbound.write(.text(EventMessage(event: event).json))
                    }
                }
                // Either side ending (client gone, server stopping) ends the connection.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
