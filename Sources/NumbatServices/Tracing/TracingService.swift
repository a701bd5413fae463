import ErlangDist
import ErlangTerm
import Foundation
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

/// Safe tracing (issue 19 item 1): bounded trace sessions on a node or a family's UP members.
/// The bounds are enforced on each node by its tracer (`numbat_trace_agent`: max count, max
/// rate, duration, its own queue, this server going); this master part starts the node parts,
/// keeps the session (`TraceSession`, pure state changes) and its events in the store, and
/// publishes both on the event bus (topic `trace`) for WebSocket clients.
public final class TracingService: NumbatService {
    public struct Settings: Sendable {
        var limits = TraceSpec.Limits()
        /// Sessions kept in the store (with their events); older ones are deleted as new ones end.
        public var keepSessions = 200
        public init() {}
    }

    /// A session running on this server, with its node parts.
    struct Running {
        var session: TraceSession
        var parts: [NodeTrace]
    }

    public let name = "tracing"
    let nodes: NodeManager
    let bus: EventBus
    let store: any NodeReader & FamilyStore
    let traces: any TraceStore
    let logger: Logger
    let settings: Settings
    private let running = NIOLockedValueBox<[UUID: Running]>([:])
    /// Nodes with a session starting or running here: a second request is a 409 at once.
    private let busy = NIOLockedValueBox<Set<UUID>>([])
    /// The last stored change of a session: each waits for the one before, so the store ends
    /// with the newest (two nodes' ends landing in the wrong order would leave a part running).
    private let lastWrite = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(context: ServiceContext, traces: any TraceStore, settings: Settings = Settings()) {
        nodes = context.nodes
        bus = context.bus
        store = context.store
        logger = context.logger
        self.traces = traces
        self.settings = settings
    }

    /// Stops every running session on its nodes (each clears its trace and says so).
    public func stop() async {
        let all = running.withLockedValue { Array($0.values) }
        for session in all {
            for part in session.parts { await part.stop() }
        }
        for session in all {
            for part in session.parts {
                part.close()
                await part.finished()
            }
        }
    }

    // MARK: Starting and stopping

    /// Starts a session as `actor`: every node part starts, or none runs (the ones started are
    /// stopped again) and the first refusal is thrown.
    public func start(_ request: StartTraceRequest, actor: String) async throws -> TraceSession {
        let spec = try TraceSpec(request, limits: settings.limits)
        let (targets, family) = try await targets(of: request)
        let claimed = busy.withLockedValue { busy -> Bool in
            guard busy.isDisjoint(with: targets.map(\.id)) else { return false }
            busy.formUnion(targets.map(\.id))
            return true
        }
        guard claimed else {
            throw NumbatError.conflict("trace_busy", "a trace session already runs on \(targets.map(\.name).joined(separator: " or ")); stop it first (one session per node)")
        }
        let id = UUID()
        var session = TraceSession(id: id, kind: spec.kind, target: spec.target, matchSpec: spec.matchSpecText, familyID: family,
                                   maxCount: spec.maxCount, maxRate: spec.maxRate, rateWindowMs: spec.rateWindowMs,
                                   durationSeconds: spec.durationSeconds, actor: actor, startedAt: Date(),
                                   nodes: targets.map { TraceSession.NodePart(nodeID: $0.id, nodeName: $0.name) })
        var parts: [NodeTrace] = []
        do {
            for node in targets {
                let part = NodeTrace(node: node, session: id, service: self)
                let matched = try await part.start(options: spec.options(session: id))
                parts.append(part)
                if spec.kind == .call, let index = session.nodes.firstIndex(where: { $0.nodeID == node.id }) { session.nodes[index].matched = matched }
            }
        } catch {
            for part in parts {
                await part.stop()
                part.close()
            }
            busy.withLockedValue { $0.subtract(targets.map(\.id)) }
            throw error
        }
        do {
            try await traces.saveTraceSession(session)
        } catch {
            for part in parts {
                await part.stop()
                part.close()
            }
            busy.withLockedValue { $0.subtract(targets.map(\.id)) }
            throw error
        }
        running.withLockedValue { $0[id] = Running(session: session, parts: parts) }
        logger.notice("trace session started", metadata: ["session": "\(id)", "actor": "\(actor)", "kind": "\(spec.kind.rawValue)",
                                                          "target": "\(spec.target)", "nodes": "\(targets.map(\.name).joined(separator: ","))"])
        bus.publish(.traceSession(session))
        for part in parts { part.run(deadline: .seconds(spec.durationSeconds + 30)) }
        return session
    }

    /// The UP nodes to trace: the node, or the family's UP members.
    private func targets(of request: StartTraceRequest) async throws -> ([ManagedNode], UUID?) {
        switch (request.node, request.family) {
        case (let text?, nil):
            let node: ManagedNode?
            if let id = UUID(uuidString: text) { node = try await store.node(id: id) } else { node = try await store.node(named: text) }
            guard let node else { throw NumbatError.notFound("node_not_found", "no managed node is \(text)") }
            guard nodes.upNodes.contains(where: { $0.id == node.id }) else {
                throw NumbatError.conflict("node_not_up", "\(node.name) is not UP on this server; only UP nodes can be traced")
            }
            return ([node], nil)
        case (nil, let text?):
            guard let id = UUID(uuidString: text) else { throw NumbatError.badRequest("invalid_family", "family must be a family id") }
            guard let family = try await store.family(id: id), !family.deleted else {
                throw NumbatError.notFound("family_not_found", "no node family has id \(text)")
            }
            let members = nodes.upNodes.filter { $0.familyID == id }.sorted { $0.name < $1.name }
            guard !members.isEmpty else { throw NumbatError.conflict("node_not_up", "no member of \(family.name) is UP on this server") }
            return (members, id)
        default:
            throw NumbatError.badRequest("invalid_target", "give node or family (one of them)")
        }
    }

    /// Stops a running session on every node; answers the session once every part ended (or
    /// as it is, when it had ended already).
    public func stop(session id: UUID) async throws -> TraceSession {
        guard let current = running.withLockedValue({ $0[id] }) else { return try await session(id: id) }
        for part in current.parts { await part.stop() }
        for part in current.parts { await part.finished() }
        return try await session(id: id)
    }

    // MARK: Reading

    /// The session: the running one as it is now, or the stored one. A session stored as
    /// running that no server can still be running (past its duration and a grace, as after a
    /// server was killed) is shown, and stored, as ended: its nodes cleared the trace when the
    /// server went.
    public func session(id: UUID) async throws -> TraceSession {
        if let live = running.withLockedValue({ $0[id]?.session }) { return live }
        guard var stored = try await traces.traceSession(id: id) else {
            throw NumbatError.notFound("trace_session_not_found", "no trace session has id \(id.uuidString.lowercased())")
        }
        if stored.state == .running, Date() > stored.startedAt.addingTimeInterval(TimeInterval(stored.durationSeconds + 30)) {
            stored.endAll(reason: .disconnected, at: Date())
            try await traces.saveTraceSession(stored)
        }
        return stored
    }

    public func sessions(limit: Int) async throws -> [TraceSession] {
        var listed: [TraceSession] = []
        for stored in try await traces.traceSessions(limit: limit) {
            listed.append(stored.state == .running ? try await session(id: stored.id) : stored)
        }
        return listed
    }

    public func events(session id: UUID, after: Int64?, limit: Int) async throws -> TraceEventPageResponse {
        _ = try await session(id: id)
        let events = try await traces.traceEvents(session: id, after: after, limit: limit)
        return TraceEventPageResponse(events: events, next: events.count == limit ? events.last?.id : nil)
    }

    // MARK: What the node parts report

    /// A batch from a node: the events the session still admits are stored, then published.
    func received(_ events: [TraceEvent], session id: UUID, node: UUID) async {
        let admitted = running.withLockedValue { running -> Int in
            guard running[id] != nil else { return 0 }
            return running[id]!.session.admit(events.count, from: node)
        }
        guard admitted > 0 else { return }
        do {
            let stored = try await traces.appendTraceEvents(Array(events.prefix(admitted)))
            bus.publish(.traceEvents(session: id, node: node, events: stored))
        } catch {
            logger.error("storing trace events failed", metadata: ["session": "\(id)", "error": "\(error)"])
        }
    }

    /// A node's part ended; the session is stored (and published) as it is now, and leaves the
    /// running ones with its last part.
    func ended(session id: UUID, node: UUID, reason: TraceSession.EndReason, dropped: Int, error: String?) async {
        let change = running.withLockedValue { running -> (TraceSession, Bool, Task<Void, Never>)? in
            guard var current = running[id] else { return nil }
            guard current.session.nodes.contains(where: { $0.nodeID == node && $0.state == .running }) else { return nil }
            let over = current.session.end(node: node, reason: reason, dropped: dropped, error: error, at: Date())
            if over { running[id] = nil } else { running[id] = current }
            return (current.session, over, persist(current.session, prune: over))
        }
        guard let (session, _, write) = change else { return }
        busy.withLockedValue { _ = $0.remove(node) }
        logger.notice("trace session part ended", metadata: ["session": "\(id)", "node": "\(node)", "reason": "\(reason.rawValue)",
                                                             "kept": "\(session.nodes.first { $0.nodeID == node }?.kept ?? 0)"])
        await write.value
        bus.publish(.traceSession(session))
    }

    /// Stores `session` after the changes stored before it (called under the `running` lock, so
    /// the order of the writes is the order of the changes).
    private func persist(_ session: TraceSession, prune: Bool) -> Task<Void, Never> {
        lastWrite.withLockedValue { last in
            let previous = last
            let write = Task { [traces, logger, settings] in
                await previous?.value
                do {
                    try await traces.saveTraceSession(session)
                    if prune { _ = try await traces.pruneTraceSessions(keep: settings.keepSessions) }
                } catch {
                    logger.error("storing a trace session failed", metadata: ["session": "\(session.id)", "error": "\(error)"])
                }
            }
            last = write
            return write
        }
    }
}
