import Foundation
import NIOConcurrencyHelpers

/// Publish/subscribe of `NumbatEvent`s within the server: services publish, and services and
/// WebSocket clients subscribe. A slow subscriber loses its oldest events (bounded buffer),
/// never slows the publisher.
///
/// Two kinds of readers, so that an event is acted on once in a cluster of servers (issue 13):
/// - `subscribe()`: this server's own events only. For services that *act* on events (alarms,
///   the node manager, notifications storage, the cluster service, the cluster event relay):
///   an event of another server was acted on there already.
/// - `watch()`: this server's events and, in a cluster, every other server's as relayed by
///   `ClusterEventRelay` (`present(_:from:)`), each tagged with its origin. Only for readers
///   that *present* events (the WebSocket): acting on them here would do everything twice.
/// - `tap(_:)`: this server's events handed to a function as they are published, in
///   publication order, nothing buffered: for the relay, which must lose none at shutdown.
public final class EventBus: Sendable {
    /// An event as a presenting reader sees it.
    public struct Delivery: Sendable, Equatable {
        public var event: NumbatEvent
        /// The server of the cluster where it happened; nil: this server.
        public var origin: UUID?

        public init(event: NumbatEvent, origin: UUID? = nil) {
            self.event = event
            self.origin = origin
        }
    }

    private let subscribers = NIOLockedValueBox<[UInt64: AsyncStream<NumbatEvent>.Continuation]>([:])
    private let watchers = NIOLockedValueBox<[UInt64: AsyncStream<Delivery>.Continuation]>([:])
    private let taps = NIOLockedValueBox<[UInt64: @Sendable (NumbatEvent) -> Void]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)
    private let bufferSize: Int

    public init(bufferSize: Int = 4096) {
        self.bufferSize = bufferSize
    }

    /// Publishes one of this server's events, to subscribers and watchers alike.
    public func publish(_ event: NumbatEvent) {
        for tap in taps.withLockedValue({ Array($0.values) }) { tap(event) }
        let current = subscribers.withLockedValue { Array($0.values) }
        for subscriber in current { subscriber.yield(event) }
        let watching = watchers.withLockedValue { Array($0.values) }
        if !watching.isEmpty {
            let delivery = Delivery(event: event)
            for watcher in watching { watcher.yield(delivery) }
        }
    }

    public func publish(_ kind: NumbatEvent.Kind) {
        publish(NumbatEvent(kind))
    }

    /// Hands an event of another server (`origin`) to the watchers only: services never see it.
    public func present(_ event: NumbatEvent, from origin: UUID) {
        let delivery = Delivery(event: event, origin: origin)
        for watcher in watchers.withLockedValue({ Array($0.values) }) { watcher.yield(delivery) }
    }

    /// This server's events published from now on, until the stream is dropped or cancelled.
    /// For services that act on events.
    public func subscribe() -> AsyncStream<NumbatEvent> {
        let (stream, continuation) = AsyncStream<NumbatEvent>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = makeID()
        subscribers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [subscribers] _ in
            subscribers.withLockedValue { _ = $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Every event from now on, this server's and the cluster's other servers', with its
    /// origin. For readers that only present events (the WebSocket), never for ones that act.
    public func watch() -> AsyncStream<Delivery> {
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = makeID()
        watchers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [watchers] _ in
            watchers.withLockedValue { _ = $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Calls `handler` with each of this server's events as it is published, on the publisher's
    /// task (so it must be quick and must not publish), until `untap`. Returns the tap's id.
    public func tap(_ handler: @escaping @Sendable (NumbatEvent) -> Void) -> UInt64 {
        let id = makeID()
        taps.withLockedValue { $0[id] = handler }
        return id
    }

    public func untap(_ id: UInt64) {
        taps.withLockedValue { _ = $0.removeValue(forKey: id) }
    }

    private func makeID() -> UInt64 {
        nextID.withLockedValue { value -> UInt64 in
            value += 1
            return value
        }
    }

    /// Ends every subscription (server shutdown).
    public func finish() {
        let current = subscribers.withLockedValue { all -> [AsyncStream<NumbatEvent>.Continuation] in
            defer { all = [:] }
            return Array(all.values)
        }
        for subscriber in current { subscriber.finish() }
        let watching = watchers.withLockedValue { all -> [AsyncStream<Delivery>.Continuation] in
            defer { all = [:] }
            return Array(all.values)
        }
        for watcher in watching { watcher.finish() }
        taps.withLockedValue { $0 = [:] }
    }

    /// Subscribers, watchers and taps.
    public var subscriberCount: Int {
        subscribers.withLockedValue { $0.count } + watchers.withLockedValue { $0.count } + taps.withLockedValue { $0.count }
    }
}
