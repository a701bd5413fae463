import Foundation

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
/// For state that changes on its own (a node coming UP): the wait lasts only as long as the
/// change takes.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
