import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NumbatCore
import NumbatServices

/// `GET /api/ws`: pushes events as JSON text frames, filtered by the client's subscription.
/// Authentication ran before the upgrade (the router's middleware covers this route). In a
/// cluster the events of the other servers come too (`EventBus.watch`, fed by
/// `ClusterEventRelay`), each carrying its server's id.
enum EventSocket {
    static func addRoute(to router: Router<NumbatRequestContext>, bus: EventBus) {
        router.ws("api/ws") { _, context in
            context.identity == nil ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, _ in
            let filter = NIOLockedValueBox(SubscriptionFilter.everything)
            let events = bus.watch()
            try await outbound.write(.text(SocketMessage.hello.json))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 64 << 10) {
                        guard case .text(let text) = message else { continue }
                        switch SubscriptionFilter.parse(text) {
                        case .success(let subscription):
                            filter.withLockedValue { $0 = subscription }
                            try await outbound.write(.text(SocketMessage.subscribed.json))
                        case .failure(let error):
                            try await outbound.write(.text(SocketMessage.error(error.message).json))
                        }
                    }
                }
                group.addTask {
                    for await delivery in events where filter.withLockedValue({ $0.matches(delivery.event) }) {
                        try await outbound.write(.text(EventMessage(event: delivery.event, server: delivery.origin).json))
                    }
                }
                // Either side ending (client gone, server stopping) ends the connection.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
