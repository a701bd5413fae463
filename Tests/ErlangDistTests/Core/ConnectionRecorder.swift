@testable import ErlangDist
import ErlangTerm
import NIOCore

/// What a `DistributionChannelHandler` told its node, in order. The handler's real delegate is
/// `LocalNode`; tests on `EmbeddedChannel` look at the handler alone, so they keep its reports.
/// `@unchecked Sendable`: everything runs on the test's `EmbeddedEventLoop`, on one thread.
final class ConnectionRecorder: DistributionChannelHandler.Delegate, @unchecked Sendable {
    private(set) var established: [NodeConnection] = []
    private(set) var messages: [ControlMessage] = []
    /// Messages to reply pids that want them flat, with the pid.
    private(set) var flatMessages: [(FlatTerm, Pid)] = []
    /// The sender each of `flatMessages` named (`SEND_SENDER`), nil for a plain `SEND`.
    private(set) var flatSenders: [Pid?] = []
    private(set) var lost: [DistributionError] = []
    /// Why the handshake failed, once the handler's `established` promise fails.
    private(set) var handshakeFailure: DistributionError?
    private(set) var handshakeSucceeded = false

    /// Records how the handshake ends.
    func watch(_ established: EventLoopFuture<NodeConnection>) {
        established.whenComplete { result in
            switch result {
            case .success: self.handshakeSucceeded = true
            case .failure(let error): self.handshakeFailure = error as? DistributionError
            }
        }
    }

    func connectionEstablished(_ connection: NodeConnection) { established.append(connection) }
    func connection(_ connection: NodeConnection, received message: ControlMessage) { messages.append(message) }
    func connection(_ connection: NodeConnection, received message: FlatTerm, to pid: Pid, from sender: Pid?) {
        flatMessages.append((message, pid))
        flatSenders.append(sender)
    }
    func connectionLost(_ connection: NodeConnection, reason: DistributionError) { lost.append(reason) }
}
