import ErlangDist
import ErlangTerm
import Foundation
import NumbatCore
@testable import NumbatServices
import Testing

@Suite("agent owner")
struct AgentOwnerTests {
    /// A node's connection that goes while its agent starts is reported by the node manager
    /// (node DOWN, or handed to another server); the agent's own failure is only logged.
    @Test("a launch that failed because the connection went is not reported; any other failure is")
    func connectionLossIsNotAnAgentFailure() async throws {
        let node = try NodeName("peer@127.0.0.1")
        for lost in [DistributionError.connectionClosed(node), .noConnection(node), .tickTimeout(node)] {
            #expect(!AgentOwner.isWorthReporting(lost), "\(lost)")
        }
        let refused = NumbatError(.unavailable, "agent_start_failed", "numbat_metrics_agent did not start on peer@127.0.0.1: {error,nofile}")
        let undef = DistributionError.badRPC(.tuple([.atom("EXIT"), .tuple([.atom("undef"), .list([])])]))
        for failure in [refused, undef, DistributionError.timeout("rpc code:load_binary/3")] as [any Error] {
            #expect(AgentOwner.isWorthReporting(failure), "\(failure)")
        }
        // Stopping the worker cancels its task: whatever failed then is not reported either.
        let cancelled = Task {
            while !Task.isCancelled { await Task.yield() }
            return AgentOwner.isWorthReporting(refused)
        }
        cancelled.cancel()
        #expect(await cancelled.value == false)
    }
}
