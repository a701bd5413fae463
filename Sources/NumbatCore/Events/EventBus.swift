import Foundation
import NIOConcurrencyHelpers

/// Publish/subscribe of `NumbatEvent`s within the server: services publish, and services and
/// WebSocket clients subscribe. A slow subscriber loses its oldest events (bounded buffer),
/// never slows the publisher.
public final class EventBus: Sendable {
    private let subscribers = NIOLockedValueBox<[UInt64: AsyncStream<NumbatEvent>.Continuation]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)
    private let bufferSize: Int

    public init(bufferSize: Int = 4096) {
        self.bufferSize = bufferSize
    }

    public func publish(_ event: NumbatEvent) {
        let current = subscribers.withLockedValue { Array($0.values) }
        for subscriber in current { subscriber.yield(event) }
    }

    public func publish(_ kind: NumbatEvent.Kind) {
        publish(NumbatEvent(kind))
    }

    /// Events published from now on, until the stream is dropped or cancelled.
    public func subscribe() -> AsyncStream<NumbatEvent> {
        let (stream, continuation) = AsyncStream<NumbatEvent>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = nextID.withLockedValue { value -> UInt64 in
            value += 1
            return value
        }
        subscribers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [subscribers] _ in
            subscribers.withLockedValue { _ = $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every subscription (server shutdown).
    public func finish() {
        let current = subscribers.withLockedValue { all -> [AsyncStream<NumbatEvent>.Continuation] in
            defer { all = [:] }
            return Array(all.values)
        }
        for subscriber in current { subscriber.finish() }
    }

    public var subscriberCount: Int { subscribers.withLockedValue { $0.count } }
}
