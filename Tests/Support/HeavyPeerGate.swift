import Foundation

/// Lets one heavy peer set-up run at a time in the test process: a pool of namespace hosts with
/// their sshd (and the releases deployed onto them), or a headless Chromium. Each is dozens of
/// processes; on two cores, two at once beside the other suites starting OTP nodes slowed
/// everything enough to miss the other suites' event bounds. One `swift test` process runs every
/// test target, so this one gate covers them all.
///
/// Reentrant: a test that already holds it (a browser driving a deployment onto namespace hosts)
/// goes straight through, as do the child tasks it starts.
public actor HeavyPeerGate {
    public static let shared = HeavyPeerGate()

    @TaskLocal private static var held = false

    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once no other heavy peer set-up is running.
    public nonisolated func run<T>(_ body: () async throws -> T) async throws -> T {
        if Self.held { return try await body() }
        await acquire()
        do {
            let value = try await Self.$held.withValue(true) { try await body() }
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
