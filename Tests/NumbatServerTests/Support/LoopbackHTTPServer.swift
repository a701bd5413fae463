import Hummingbird
import Logging
import NIOConcurrencyHelpers

/// A Hummingbird router served on 127.0.0.1:`port` until `stop()`: the HTTP peer of tests that
/// play a receiver (a webhook, a throttling remote-write endpoint). Quiet: stopping it (a
/// receiver going down) is part of the tests.
final class LoopbackHTTPServer: Sendable {
    let port: Int
    private let running = NIOLockedValueBox<Task<Void, any Error>?>(nil)

    init(port: Int) {
        self.port = port
    }

    /// Serves `router`; returns once it listens.
    func start(_ router: Router<BasicRequestContext>, label: String) async {
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        var logger = Logger(label: label)
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                              onServerRunning: { _ in readyContinuation.yield() }, logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        running.withLockedValue { $0 = task }
        var iterator = ready.makeAsyncIterator()
        _ = await iterator.next()
    }

    func stop() async {
        let task = running.withLockedValue { task -> Task<Void, any Error>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        _ = try? await task?.value
    }
}
