import ErlangDist
import ErlangTerm
import NumbatTestSupport

/// A local Swift node with a unique name, for one test.
func makeLocalNode(cookie: String = "numbat-test-cookie", tickTime: Duration = .seconds(60), autoConnect: Bool = true,
                   busyWait: Duration = .microseconds(200)) throws -> LocalNode
{
    var configuration = LocalNode.Configuration(name: "swift\(UInt32.random(in: 0...UInt32.max))", cookie: cookie)
    configuration.tickTime = tickTime
    configuration.autoConnect = autoConnect
    configuration.connectTimeout = .seconds(5)
    configuration.busyWait = busyWait
    return try LocalNode(configuration)
}

/// Runs `body` with a real OTP node and a local Swift node, shutting both down afterwards.
func withPeer<T>(_ release: OTPRelease, style: TestNode.NameStyle = .long, extraArgs: [String] = [],
                 tickTime: Duration = .seconds(60), busyWait: Duration = .microseconds(200),
                 _ body: (LocalNode, TestNode) async throws -> T) async throws -> T
{
    try await TestNode.with(release: release, style: style, extraArgs: extraArgs) { peer in
        let local = try makeLocalNode(cookie: peer.cookie, tickTime: tickTime, busyWait: busyWait)
        do {
            let result = try await body(local, peer)
            await local.shutdown()
            return result
        } catch {
            await local.shutdown()
            throw error
        }
    }
}

extension LocalNode {
    /// Calls a `numbat_test_peer` helper on `peer`.
    func peerCall(_ peer: TestNode, _ function: Atom, _ arguments: [Term] = []) async throws -> Term {
        try await rpc(peer.name, "numbat_test_peer", function, arguments, timeout: .seconds(10))
    }
}

/// Waits for the next event matching `predicate`, failing after `timeout`.
func nextEvent(_ events: AsyncStream<NodeEvent>, within timeout: Duration, where predicate: @escaping @Sendable (NodeEvent) -> Bool) async -> NodeEvent? {
    await withTaskGroup(of: NodeEvent?.self) { group in
        group.addTask {
            for await event in events where predicate(event) { return event }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
