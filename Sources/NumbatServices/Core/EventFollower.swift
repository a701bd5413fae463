import NIOConcurrencyHelpers
import NumbatCore

/// A service's reader of the event bus: hands each event to the service, in order, until the
/// service stops. The subscription is taken at `follow`, so nothing published after it is missed.
final class EventFollower: Sendable {
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    func follow(_ bus: EventBus, _ handle: @escaping @Sendable (NumbatEvent.Kind) async -> Void) {
        let events = bus.subscribe()
        task.withLockedValue { task in
            task = Task {
                for await event in events {
                    if Task.isCancelled { return }
                    await handle(event.kind)
                }
            }
        }
    }

    func cancel() {
        task.withLockedValue { $0?.cancel() }
    }
}
