import ErlangTerm
import NIOCore

extension LocalNode {
    /// Whether the current task's calls may busy-wait for their replies (`BusyWaitPolicy`).
    /// Off for work nobody waits on: a periodic metric collection or alarm check gains nothing
    /// from a quicker reply, and its spin would only add to the server's CPU per collection.
    @TaskLocal public static var busyWaits = true

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
        let reply = try await awaitReply(id: id, node: peer.atom, kind: .init(module: module, function: function), timeout: timeout, what: "rpc \(module):\(function)/\(arguments.count) on \(peer)") {
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

    /// `rpc`, with the reply decoded into a `FlatTerm` as it is read off the connection, and
    /// read in place: for replies the caller only reads (a metric collection's dozens of name and
    /// value tuples), which a `Term` would build an allocation at a time. Returns `Reply` of
    /// rex's `{rex, Reply}`; throws `badRPC` as `rpc` does.
    public func rpcFlat(_ peer: NodeName, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                        timeout: Duration = .seconds(30)) async throws(DistributionError) -> FlatTerm.Element
    {
        let connection = try await connection(to: peer.atom)
        let id = allocateID()
        let from = Pid(node: connection.localName, id: id, serial: Self.flatReplySerial, creation: creation)
        let request = Term.tuple([.pid(from), .tuple([.atom("call"), .atom(module), .atom(function), .list(arguments), .atom("user")])])
        let delivery = try await awaitDelivery(id: id, node: peer.atom, kind: .init(module: module, function: function), timeout: timeout, what: "rpc \(module):\(function)/\(arguments.count) on \(peer)") {
            connection.send(.regSend(from: from, to: "rex", message: request))
        }
        let message: FlatTerm.Element
        switch delivery {
        case .flat(let flat):
            message = flat.root
        case .term(let term):
            // Only if the reply came another way than the connection's flat decoding.
            guard let flat = try? FlatTerm(decoding: term.encoded()) else { throw .badRPC(.tuple([.atom("unexpected_reply"), term])) }
            message = flat.root
        }
        guard message.kind == .tuple, message.count == 2, message.element(0)?.isAtom("rex") == true, let reply = message.element(1) else {
            throw .badRPC(.tuple([.atom("unexpected_reply"), message.term]))
        }
        if reply.kind == .tuple, reply.count == 2, reply.element(0)?.isAtom("badrpc") == true, let reason = reply.element(1) {
            throw .badRPC(reason.term)
        }
        return reply
    }

    /// `rpc` with the node given as text.
    public func rpc(_ peer: String, _ module: Atom, _ function: Atom, _ arguments: [Term] = [],
                    timeout: Duration = .seconds(30)) async throws(DistributionError) -> Term
    {
        try await rpc(try NodeName(peer), module, function, arguments, timeout: timeout)
    }

    /// Registers pid `id` for exactly one message, runs `send`, and waits for the message,
    /// a timeout, cancellation or the connection's loss, whichever comes first. No timer is
    /// made per call: the node's one reply timer fails overdue replies (`ReplyDeadlines`).
    func awaitReply(id: UInt32, node: Atom, kind: BusyWaitPolicy.Kind, timeout: Duration, what: @autoclosure () -> String,
                    send: () -> Void) async throws(DistributionError) -> Term
    {
        switch try await awaitDelivery(id: id, node: node, kind: kind, timeout: timeout, what: what(), send: send) {
        case .term(let term): return term
        case .flat(let flat): return flat.term
        }
    }

    /// A reply as it came: a `Term`, or a `FlatTerm` for a pid of `flatReplySerial`.
    enum Delivery {
        case term(Term)
        case flat(FlatTerm)
    }

    /// `awaitReply`, giving the reply in the form the connection decoded it in.
    /// A call of a `kind` whose replies come fast keeps a CPU awake until its own comes
    /// (`BusyWaitPolicy`, `ReplySpinner`).
    func awaitDelivery(id: UInt32, node: Atom, kind: BusyWaitPolicy.Kind, timeout: Duration, what: @autoclosure () -> String,
                       send: () -> Void) async throws(DistributionError) -> Delivery
    {
        let busyWaits = Self.busyWaits
        let sentAt = NIODeadline.now()
        let deadline = sentAt + TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        let outcome: ReplyOutcome = await withTaskCancellationHandler {
            // Unsafe, not checked: the receiver is resumed once by construction (whoever removes
            // it under the lock resumes it), and the checked one costs an allocation per call.
            await withUnsafeContinuation { (continuation: UnsafeContinuation<ReplyOutcome, Never>) in
                let started = state.withLockedValue { state -> (timer: NIODeadline?, spin: UInt64?)? in
                    // Shut down: no timer would ever time the call out. Cancelled already:
                    // the cancellation handler ran before there was a receiver to take, so
                    // nothing is sent and nothing waits (checked under the lock, which the
                    // handler takes too).
                    guard !state.isShutDown, !Task.isCancelled else { return nil }
                    state.awaitingReplies[node, default: []].insert(id)
                    let ticket = state.busyWait.callSent(kind, at: sentAt.uptimeNanoseconds, othersInFlight: state.replyDeadlines.count,
                                                         callerWaits: busyWaits)
                    if ticket.spins { state.spunCalls += 1 }
                    // Whoever ends the wait (reply, timeout, cancellation, the connection's
                    // loss) resumes it once, so an armed spinner is disarmed once.
                    state.receivers[id] = .reply(node: node, ticket: ticket) { outcome in
                        if ticket.spins { ReplySpinner.shared.disarm() }
                        continuation.resume(returning: outcome)
                    }
                    let timer = state.replyDeadlines.insert(id, dueAt: deadline)
                    return (timer, ticket.spins ? state.busyWait.budget : nil)
                }
                guard let started else {
                    continuation.resume(returning: Task.isCancelled ? .cancelled : .failed(.mailboxClosed))
                    return
                }
                if let timer = started.timer { self.setReplyTimer(for: timer) }
                // Armed before the send, so that the disarm of a reply quicker than this
                // thread's return from `send` finds it armed.
                if let budget = started.spin { ReplySpinner.shared.arm(budget: budget) }
                send()
            }
        } onCancel: {
            self.takeReply(id: id)?(.cancelled)
        }
        switch outcome {
        case .reply(let term): return .term(term)
        case .flatReply(let flat): return .flat(flat)
        case .failed(let error): throw error
        case .timedOut: throw .timeout(what())
        case .cancelled: throw .timeout("\(what()) was cancelled")
        }
    }

    /// Sets the reply timer for `deadline`, replacing the one set, unless the node shut down or
    /// a call due sooner wanted the timer for its own deadline meanwhile (two calls may set it
    /// at once: the one `ReplyDeadlines` wants last is kept, the other cancelled).
    private func setReplyTimer(for deadline: NIODeadline) {
        let timer = replyTimerLoop.scheduleTask(deadline: deadline) { self.replyTimerFired(setFor: deadline) }
        let unwanted = state.withLockedValue { state -> Scheduled<Void>? in
            guard !state.isShutDown, state.replyDeadlines.timer == deadline else { return timer }
            defer { state.replyTimer = timer }
            return state.replyTimer
        }
        unwanted?.cancel()
    }

    /// The reply timer set for `deadline` went off: sets the timer again for the earliest reply
    /// still waiting, then resumes every reply due with `.timedOut` (in that order, so a caller
    /// that sees its timeout finds the timer set for the others).
    private func replyTimerFired(setFor deadline: NIODeadline) {
        let (due, next) = state.withLockedValue { state -> ([@Sendable (ReplyOutcome) -> Void], NIODeadline?) in
            guard let fired = state.replyDeadlines.timerFired(setFor: deadline, now: .now()) else { return ([], nil) }
            state.replyTimer = nil
            let resumes = fired.expired.compactMap { id -> (@Sendable (ReplyOutcome) -> Void)? in
                guard case .reply(let node, _, let resume) = state.receivers[id] else { return nil }
                state.receivers[id] = nil
                state.forgetReply(id, on: node)
                return resume
            }
            return (resumes, fired.next)
        }
        if let next { setReplyTimer(for: next) }
        for resume in due { resume(.timedOut) }
    }

    /// Removes the one-shot receiver `id`; whoever gets it resumes it.
    private func takeReply(id: UInt32) -> (@Sendable (ReplyOutcome) -> Void)? {
        state.withLockedValue { state in
            guard case .reply(let node, _, let resume) = state.receivers[id] else { return nil }
            state.receivers[id] = nil
            state.forgetReply(id, on: node)
            return resume
        }
    }
}
