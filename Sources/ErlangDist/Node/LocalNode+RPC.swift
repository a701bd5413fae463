import ErlangTerm
import NIOCore

extension LocalNode {
    /// Calls `module:function(args...)` on `peer` through its `rex` server, as `rpc:call/5`
    /// does, and returns the result. An exception in the call, or an rpc failure, throws
    /// `.badRPC(reason)` with the Erlang reason; a throw in the call returns the thrown value
    /// (as rpc:call does). A late reply after a timeout is dropped: nothing stays behind.
    public func rpc(_ peer: NodeName, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                    timeout: Duration = .seconds(30)) async throws(DistributionError) -> Term
    {
        let connection = try await connection(to: peer.atom)
        let id = allocateID()
        let from = pid(id: id, as: connection.localName)
        let request = Term.tuple([.pid(from), .tuple([.atom("call"), .atom(module), .atom(function), .list(arguments), .atom("user")])])
        let reply = try await awaitReply(id: id, node: peer.atom, timeout: timeout, what: "rpc \(module):\(function)/\(arguments.count) on \(peer)") {
            connection.send(.regSend(from: from, to: "rex", message: request))
        }
        guard case .tuple(let parts) = reply, parts.count == 2, parts[0] == .atom("rex") else {
            throw .badRPC(.tuple([.atom("unexpected_reply"), reply]))
        }
        if case .tuple(let result) = parts[1], result.count == 2, result[0] == .atom("badrpc") {
            throw .badRPC(result[1])
        }
        return parts[1]
    }

    /// `rpc` with the node given as text.
    public func rpc(_ peer: String, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                    timeout: Duration = .seconds(30)) async throws(DistributionError) -> Term
    {
        try await rpc(try NodeName(peer), module, function, arguments, timeout: timeout)
    }

    /// Registers pid `id` for exactly one message, runs `send`, and waits for the message,
    /// a timeout, cancellation or the connection's loss, whichever comes first.
    func awaitReply(id: UInt32, node: Atom, timeout: Duration, what: String, send: () -> Void) async throws(DistributionError) -> Term {
        let eventLoop = group.next()
        let result: Result<Term, DistributionError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Term, DistributionError>, Never>) in
                let deadline = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
                    self.takeReply(id: id)?(.failure(.timeout(what)))
                }
                state.withLockedValue { state in
                    state.awaitingReplies[node, default: []].insert(id)
                    state.receivers[id] = .reply(node: node) { result in
                        deadline.cancel()
                        continuation.resume(returning: result)
                    }
                }
                send()
            }
        } onCancel: {
            self.takeReply(id: id)?(.failure(.timeout("\(what) was cancelled")))
        }
        return try result.get()
    }

    /// Removes the one-shot receiver `id`; whoever gets it resumes it.
    private func takeReply(id: UInt32) -> (@Sendable (Result<Term, DistributionError>) -> Void)? {
        state.withLockedValue { state in
            guard case .reply(let node, let resume) = state.receivers[id] else { return nil }
            state.receivers[id] = nil
            state.forgetReply(id, on: node)
            return resume
        }
    }
}
