import ErlangDist
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// The per-node part of the node manager: the thin I/O shell around one node's `NodeLifecycle`.
/// Events reach it through an inbox and are handled one at a time, in order; each event's
/// directives are carried out (stored, published, connected, timed) before the next event, so
/// the stored state and the published events follow the lifecycle exactly.
final class NodeSupervisor: Sendable {
    let id: UUID
    private let manager: NodeManager
    /// Mutable: a node's TLS settings may be replaced while it is managed (certificates expire).
    private let credentials: NIOLockedValueBox<NodeCredentials>
    /// Its events, handled by a task that exists only while there are some (`SerialInbox`):
    /// a task waiting for events as long as the node is managed kept 2 KB per node.
    private let inbox = SerialInbox<Input>(countsAsWorker: false)
    private let state: NIOLockedValueBox<State>

    private struct Input: Sendable {
        var event: NodeLifecycle.Event
        /// Resumed when the event's directives are carried out (with the first error, if any).
        var done: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var lifecycle: NodeLifecycle
        /// The running connection attempt or retry timer: at most one at a time. Dropped when
        /// it ends (a finished task kept here would keep its memory: the connection's deepest
        /// calls).
        var pending: Task<Void, Never>?
        /// Which `startPending` made `pending`, so that an attempt ending drops only itself.
        var pendingGeneration = 0
        /// Being let go (`letGo`): the connection was closed ahead of the inbox, and its loss
        /// is not a node going DOWN.
        var releasing = false
    }

    init(lifecycle: NodeLifecycle, credentials: NodeCredentials, manager: NodeManager) {
        self.id = lifecycle.node.id
        self.manager = manager
        self.credentials = NIOLockedValueBox(credentials)
        self.state = NIOLockedValueBox(State(lifecycle: lifecycle))
        inbox.start { await self.process($0) }
    }

    var node: ManagedNode { state.withLockedValue { $0.lifecycle.node } }
    /// The node's own TLS settings (nil: its family's, or none); used from its next connection.
    var ownTLS: TLSCredentials? {
        get { credentials.withLockedValue { $0.tls } }
        set { credentials.withLockedValue { $0.tls = newValue } }
    }
    var isManaged: Bool { state.withLockedValue { $0.lifecycle.isManaged } }
    /// The node, if it is connected and UP now (not merely stored UP).
    var nodeIfUp: ManagedNode? { state.withLockedValue { $0.lifecycle.phase == .up ? $0.lifecycle.node : nil } }

    /// Hands `event` to the lifecycle without waiting (connection reports, timers).
    func post(_ event: NodeLifecycle.Event) {
        inbox.post(Input(event: event, done: nil))
    }

    /// Hands `event` to the lifecycle and waits until its directives are carried out.
    func send(_ event: NodeLifecycle.Event) async throws {
        try await withCheckedThrowingContinuation { continuation in
            if !inbox.post(Input(event: event, done: continuation)) {
                continuation.resume(throwing: NumbatError.notFound("node_not_found", "the node is no longer managed"))
            }
        }
    }

    /// Stops managing the node: closes its connection at once, then has the lifecycle record it.
    ///
    /// Not only through the inbox: the event before may be a store write stuck on a database
    /// that went away (packets dropped: TCP gives up after minutes), and a server letting its
    /// nodes go because it cannot renew their leases must close their connections before
    /// another server takes them, or a node has two managers (seen under load: two nodes kept
    /// for two minutes by a server cut from PostgreSQL). The loss this causes is not reported
    /// as the node going DOWN: it is being handed over, not lost.
    func letGo() async {
        let pending = state.withLockedValue { state -> Task<Void, Never>? in
            state.releasing = true
            return state.pending
        }
        pending?.cancel()
        if let name = try? NodeName(node.name) { await manager.local.disconnect(name) }
        try? await send(.unmanaged)
    }

    /// Ends the inbox after closing the connection (server shutdown, or a removed node), once
    /// the events already in it are handled.
    func stop() async {
        try? await send(.unmanaged)
        await inbox.finish()
    }

    private func process(_ input: Input) async {
        var events = [input.event]
        var failure: (any Error)?
        events: while !events.isEmpty {
            let event = events.removeFirst()
            let (before, directives) = state.withLockedValue { state -> (NodeLifecycle, [NodeLifecycle.Directive]) in
                let before = state.lifecycle
                switch event {
                case .lost where state.releasing: return (before, [])
                case .unmanaged: state.releasing = false
                default: break
                }
                return (before, state.lifecycle.handle(event, now: Date()))
            }
            for directive in directives {
                do {
                    if let next = try await carryOut(directive) { events.append(next) }
                } catch {
                    failure = failure ?? error
                    manager.logger.error("node manager: \(directive) failed", metadata: ["node": "\(node.name)", "error": "\(error)"])
                    // A node that was not stored, or not deleted, is not announced as such: the
                    // event is undone and nothing after it runs. (A failed update is logged and
                    // the node goes on: the next change stores it, and reconnecting matters more.)
                    switch directive {
                    case .insert, .delete:
                        state.withLockedValue { $0.lifecycle = before }
                        break events
                    default:
                        continue
                    }
                }
            }
        }
        if let failure { input.done?.resume(throwing: failure) } else { input.done?.resume() }
    }

    /// Carries out one directive; returns the event it leads to at once, if any.
    private func carryOut(_ directive: NodeLifecycle.Directive) async throws -> NodeLifecycle.Event? {
        switch directive {
        case .insert(let node):
            try await manager.store.insertNode(node, credentials: credentials.withLockedValue { $0 })
        case .store(let node):
            try await manager.store.updateNode(node)
        case .delete:
            _ = try await manager.store.deleteNode(id: id)
        case .publish(let kind):
            if case .nodeStateChanged(let node, _) = kind {
                manager.logger.info("node \(node.state.rawValue)", metadata: ["node": "\(node.name)", "reason": "\(node.lastError ?? "")"])
            }
            manager.bus.publish(kind)
        case .connect:
            startPending { [self] in
                do {
                    let name = try NodeName(node.name)
                    let credentials = credentials.withLockedValue { $0 }
                    try await manager.prepareConnection(to: name, port: node.port, credentials: credentials, familyID: node.familyID)
                    try await manager.local.connect(to: name)
                    let info = try await NodeInfo.fetch(from: manager.local, node: name, timeout: manager.settings.callTimeout)
                    try Task.checkCancellation()
                    post(.connected(info))
                } catch is CancellationError {
                } catch {
                    if !Task.isCancelled { post(.connectFailed(reason: "\(error)")) }
                }
            }
        case .fileInFamily(let info):
            return .filed(familyID: try await manager.familyID(for: node, info: info))
        case .retry(let delay):
            startPending { [self] in
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                post(.retry)
            }
        case .disconnect:
            let pending = state.withLockedValue { state -> Task<Void, Never>? in
                defer { state.pending = nil }
                return state.pending
            }
            pending?.cancel()
            await pending?.value
            if let name = try? NodeName(node.name) { await manager.local.disconnect(name) }
        }
        return nil
    }

    private func startPending(_ work: @escaping @Sendable () async -> Void) {
        // Made under the lock, so the task's own clearing (which takes the lock) comes after it
        // is stored.
        state.withLockedValue { state in
            state.pendingGeneration += 1
            let generation = state.pendingGeneration
            state.pending = Task { [self] in
                await work()
                self.state.withLockedValue { if $0.pendingGeneration == generation { $0.pending = nil } }
            }
        }
    }
}
