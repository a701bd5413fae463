import ErlangTerm

/// What arrives in a mailbox: an ordinary message, or a signal turned into a message (the
/// mailbox behaves like an Erlang process that traps exits).
public enum MailboxMessage: Sendable, Equatable {
    /// `message` from `from` when the sender is known (`SEND_SENDER`, `REG_SEND`).
    case message(Term, from: Pid?)
    /// A monitored process (a pid, or a registered name) went away, as `{'DOWN', Ref, process, Process, Reason}`.
    case down(ref: Reference, process: Term, reason: Term)
    /// A linked process exited, or someone called `exit(Pid, Reason)` on this mailbox.
    case exit(from: Pid, reason: Term)
    /// A message to a mailbox made `flat`, decoded into a `FlatTerm` as it was read off the
    /// connection (`LocalNode.makeMailbox(name:flat:)`).
    case flatMessage(FlatTerm, from: Pid?)

    /// The message's term as an Erlang process would receive it.
    public var term: Term {
        switch self {
        case .message(let term, _): return term
        case .flatMessage(let flat, _): return flat.term
        case .down(let ref, let process, let reason):
            return .tuple([.atom("DOWN"), .reference(ref), .atom("process"), process, reason])
        case .exit(let from, let reason):
            return .tuple([.atom("EXIT"), .pid(from), reason])
        }
    }
}

/// A node joining or leaving the set of connected nodes, as `net_kernel:monitor_nodes/1` reports.
public enum NodeEvent: Sendable, Equatable {
    case up(NodeName)
    case down(NodeName, reason: String)
}
