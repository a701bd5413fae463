import ErlangTerm
import NIOConcurrencyHelpers
import NIOCore

/// A Swift process on the local node: it has a pid (one per name style; see `pid(for:)`),
/// optionally a registered name, receives messages as an `AsyncSequence`, sends, links and
/// monitors. Closing it (or dropping the node) sends exit signals to links and `DOWN` to
/// monitors, as an exiting Erlang process would.
public final class Mailbox: AsyncSequence, Sendable {
    public typealias Element = MailboxMessage

    let id: UInt32
    public let registeredName: Atom?
    let node: LocalNode
    let state = NIOLockedValueBox(State())

    struct State {
        /// Starts small: most mailboxes (an agent's owner, an rpc caller's) rarely hold more than
        /// a message or two, and every managed node has several; the default 16 slots would cost
        /// about 2 KiB each. The queue doubles when full.
        var queue = CircularBuffer<MailboxMessage>(initialCapacity: 2)
        var waiters: [(token: UInt64, continuation: CheckedContinuation<MailboxMessage?, Never>)] = []
        var nextToken: UInt64 = 0
        var closed = false
        /// Set by `deliverEach(to:)`: messages go to it as they arrive, not to the queue.
        var handler: (@Sendable (MailboxMessage?) -> Void)?
        /// Remote processes linked to this mailbox.
        var links: Set<Pid> = []
        /// Unlinks we sent and the peer has not acknowledged (`UNLINK_ID`).
        var unlinking: [UInt64: Pid] = [:]
        /// Monitors this mailbox holds on remote processes: ref -> (node, pid or name).
        var monitors: [Reference: (node: Atom, target: Term)] = [:]
        /// Monitors remote processes hold on this mailbox: ref -> watcher.
        var watchers: [Reference: Pid] = [:]
    }

    /// Whether messages to its pid arrive decoded flat (`LocalNode.makeMailbox(name:flat:)`).
    public let isFlat: Bool

    init(id: UInt32, registeredName: Atom?, node: LocalNode, isFlat: Bool = false) {
        self.id = id
        self.registeredName = registeredName
        self.node = node
        self.isFlat = isFlat
    }

    private var serial: UInt32 { isFlat ? LocalNode.flatReplySerial : 0 }

    /// The pid under the node's configured name.
    public var pid: Pid { node.pid(id: id, as: node.name.atom, serial: serial) }

    /// The pid as `peer` knows it: under the short or long local name that matches the peer's.
    public func pid(for peer: NodeName) -> Pid { node.pid(id: id, as: node.localName(for: peer).atom, serial: serial) }

    // MARK: Receiving

    /// The next message, or nil once the mailbox is closed and drained.
    public func receive() async -> MailboxMessage? {
        let token = state.withLockedValue { state -> UInt64 in
            state.nextToken += 1
            return state.nextToken
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<MailboxMessage?, Never>) in
                let immediate: MailboxMessage?? = state.withLockedValue { state in
                    if let message = state.queue.popFirst() { return .some(message) }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.waiters.append((token, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            wake(token: token)
        }
    }

    /// The next message, waiting at most `timeout`.
    public func receive(timeout: Duration) async throws(DistributionError) -> MailboxMessage {
        let result = await withTaskGroup(of: MailboxMessage??.self) { group in
            group.addTask { await self.receive() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .some(nil)
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        switch result {
        case .some(.some(let message)): return message
        case .some(.none): throw .timeout("no message within \(timeout)")
        case .none: throw .mailboxClosed
        }
    }

    /// Resumes the waiter `token` with nothing (cancellation).
    private func wake(token: UInt64) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<MailboxMessage?, Never>? in
            guard let index = state.waiters.firstIndex(where: { $0.token == token }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Hands every message to `handler` as it arrives, instead of keeping it for `receive()`
    /// (which then waits for nothing): those already queued first, then each on the thread that
    /// delivers it (a connection's event loop), and nil once when the mailbox closes. For an
    /// owner that handles messages without a task waiting for them; `handler` must return
    /// quickly and must not call back into the mailbox: it runs under the mailbox's lock, which
    /// keeps the messages in order.
    public func deliverEach(to handler: @escaping @Sendable (MailboxMessage?) -> Void) {
        state.withLockedValue { state in
            guard state.handler == nil else { return }
            while let queued = state.queue.popFirst() { handler(queued) }
            if state.closed {
                handler(nil)
            } else {
                state.handler = handler
            }
        }
    }

    /// Puts `message` in the queue, or hands it to a waiting receiver or the handler.
    func deliver(_ message: MailboxMessage) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<MailboxMessage?, Never>? in
            guard !state.closed else { return nil }
            if let handler = state.handler {
                handler(message)
                return nil
            }
            if !state.waiters.isEmpty { return state.waiters.removeFirst().continuation }
            state.queue.append(message)
            return nil
        }
        continuation?.resume(returning: message)
    }

    /// Messages waiting to be received.
    public var queuedCount: Int { state.withLockedValue { $0.queue.count } }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let mailbox: Mailbox
        public mutating func next() async -> MailboxMessage? { await mailbox.receive() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(mailbox: self) }

    // MARK: Sending

    /// Sends `message` to `pid` (auto-connecting to its node, as Erlang does).
    public func send(_ message: Term, to pid: Pid) async throws(DistributionError) {
        try await node.send(message, to: pid, from: self)
    }

    /// `{Name, Node} ! Message`.
    public func send(_ message: Term, to name: Atom, on peer: NodeName) async throws(DistributionError) {
        try await node.send(message, toName: name, on: peer, from: self)
    }

    /// Answers a `gen_server:call`: `from` is the `{Pid, Tag}` of the `'$gen_call'` message.
    public func reply(to from: Term, with reply: Term) async throws(DistributionError) {
        guard case .tuple(let parts) = from, parts.count == 2, case .pid(let caller) = parts[0] else {
            throw .malformedFrame("a gen_server From is {Pid, Tag}, got \(from)")
        }
        let tag = parts[1]
        let answer = Term.tuple([tag, reply])
        if case .improperList(let head, .reference(let alias)) = tag, head == [.atom("alias")] {
            try await node.send(answer, toAlias: alias, from: self)
        } else {
            try await send(answer, to: caller)
        }
    }

    // MARK: Links and monitors

    /// Monitors `pid`; its exit arrives as `.down`.
    @discardableResult
    public func monitor(_ pid: Pid) async throws(DistributionError) -> Reference {
        try await node.monitor(.pid(pid), on: pid.node, from: self)
    }

    /// Monitors the process registered as `name` on `peer`.
    @discardableResult
    public func monitor(name: Atom, on peer: NodeName) async throws(DistributionError) -> Reference {
        try await node.monitor(.atom(name), on: peer.atom, from: self)
    }

    public func demonitor(_ ref: Reference) {
        node.demonitor(ref, from: self)
    }

    /// Links to `pid`: if either side exits the other gets an exit signal (delivered here as `.exit`).
    public func link(_ pid: Pid) async throws(DistributionError) {
        try await node.link(pid, from: self)
    }

    public func unlink(_ pid: Pid) async throws(DistributionError) {
        try await node.unlink(pid, from: self)
    }

    /// Exits the mailbox with `reason`: linked processes get an exit signal, monitors a `DOWN`,
    /// the registered name is freed, and waiting receivers get nil.
    public func close(reason: Term = .atom("normal")) {
        node.close(self, reason: reason)
    }

    public var isClosed: Bool { state.withLockedValue { $0.closed } }
}
