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
                    // In a task of its own, which stopping does not cancel: an event being
                    // handled (a removed node's history being deleted) is handled to the end.
                    await Task { await handle(event.kind) }.value
                }
            }
        }
    }

    /// Stops reading after the event in hand, and waits for it.
    func stop() async {
        let running = task.withLockedValue { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        running?.cancel()
        await running?.value
    }
}
