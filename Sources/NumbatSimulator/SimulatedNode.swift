import ErlangDist
import ErlangTerm
import NIOConcurrencyHelpers

/// One simulated node's I/O shell: a real `LocalNode` listening on its own loopback address and
/// port (speaking the real handshake and ticks), a `rex` mailbox whose calls
/// `SimulatedBehaviour` answers, and a mailbox per running agent that monitors the agent's
/// Numbat-side owner, as the real agents do. Log and alarm traffic is sent by `Simulator`'s
/// emitter through `send(_:from:)`.
public final class SimulatedNode: Sendable {
    public let name: NodeName
    public let local: LocalNode
    public let index: Int
    private let started: ContinuousClock.Instant
    private let state: NIOLockedValueBox<State>
    private let layout: SimulatorLayout

    struct State {
        var behaviour: SimulatedBehaviour
        var agents: [Atom: Agent] = [:]
        var rex: Task<Void, Never>?
    }

    /// A running agent: its mailbox (its pid) and its owner.
    struct Agent {
        var mailbox: Mailbox
        var owner: Pid
        var watcher: Task<Void, Never>
    }

    /// The agent owners the emitter sends to: the log agent's (with its level) and the alarm agent's.
    public struct Owners: Sendable {
        public var logs: (mailbox: Mailbox, owner: Pid, level: Atom)?
        public var alarms: (mailbox: Mailbox, owner: Pid)?
    }

    init(index: Int, layout: SimulatorLayout, cookie: String, profile: SimulatorProfile, started: ContinuousClock.Instant) throws {
        self.index = index
        self.name = layout.name(of: index)
        self.layout = layout
        self.started = started
        var configuration = LocalNode.Configuration(name: name.description, cookie: cookie)
        configuration.longHost = name.host
        local = try LocalNode(configuration)
        state = NIOLockedValueBox(State(behaviour: SimulatedBehaviour(profile: profile, drift: MetricDrift(seed: UInt64(index)))))
    }

    /// Listens on the node's address without EPMD (the simulator answers for it) and starts
    /// serving `rex`. Returns the port.
    func start() async throws -> Int {
        let port = try await local.listen(host: name.host, port: 0, registerWithEPMD: false)
        let rex = try local.makeMailbox(name: "rex")
        let task = Task { [self] in
            for await message in rex {
                guard case .message(let term, _) = message else { continue }
                await serve(term, on: rex)
            }
        }
        state.withLockedValue { $0.rex = task }
        return port
    }

    func stop() async {
        let task = state.withLockedValue { $0.rex }
        await local.shutdown()
        await task?.value
    }

    /// One `{From, {call, M, F, A, GL}}` sent to `rex`: the answer goes back as `{rex, Reply}`.
    private func serve(_ request: Term, on rex: Mailbox) async {
        guard let parts = request.tupleElements, parts.count == 2, case .pid(let from) = parts[0] else { return }
        let reply: Term
        var effects: [SimulatedBehaviour.Effect] = []
        var agentMailbox: Mailbox?
        if let call = SimulatedBehaviour.Call(request: parts[1]) {
            let now = (ContinuousClock.now - started).seconds
            // A starting agent's pid is its mailbox's: made before the behaviour answers.
            if call.function == "start", call.arguments.count == 2 { agentMailbox = try? local.makeMailbox() }
            let fallback = Pid(node: local.name.atom, id: 0, serial: 0, creation: local.creation)
            let neighbours = layout.peers(of: index)
            let hidden = local.connectedNodes.map(\.atom)
            (reply, effects) = state.withLockedValue { state in
                state.behaviour.handle(call, now: now, agentPid: { _ in agentMailbox?.pid ?? fallback }, peers: neighbours, hidden: hidden)
            }
        } else {
            reply = .tuple([.atom("badrpc"), .atom("malformed_request")])
        }
        for effect in effects { await apply(effect, mailbox: agentMailbox) }
        if let agentMailbox, !effects.contains(where: { if case .startAgent = $0 { true } else { false } }) { agentMailbox.close() }
        try? await rex.send(.tuple([.atom("rex"), reply]), to: from)
    }

    private func apply(_ effect: SimulatedBehaviour.Effect, mailbox: Mailbox?) async {
        switch effect {
        // Requests are served concurrently, so the effects of two starts may be applied in
        // either order: an agent's process is kept only while the behaviour runs its pid, and
        // a stop ends only a process the behaviour no longer runs.
        case .stopAgent(let module):
            let agent = state.withLockedValue { state -> Agent? in
                guard let agent = state.agents[module], agent.mailbox.pid != state.behaviour.running[module] else { return nil }
                state.agents[module] = nil
                return agent
            }
            agent?.watcher.cancel()
            agent?.mailbox.close(reason: .atom("normal"))
        case .startAgent(let module, let owner):
            guard let mailbox else { return }
            let pid = mailbox.pid
            // The agent monitors its owner: when Numbat closes the owner or the connection
            // goes, the agent leaves and its module with it.
            let watcher = Task { [self] in
                _ = try? await mailbox.monitor(owner)
                for await message in mailbox {
                    if case .down = message { break }
                }
                state.withLockedValue { state in
                    state.behaviour.ownerLost(module, agent: pid)
                    if state.agents[module]?.mailbox === mailbox { state.agents[module] = nil }
                }
                mailbox.close()
            }
            let (current, replaced) = state.withLockedValue { state -> (Bool, Agent?) in
                guard state.behaviour.running[module] == pid else { return (false, nil) }  // superseded already
                defer { state.agents[module] = Agent(mailbox: mailbox, owner: owner, watcher: watcher) }
                return (true, state.agents[module])
            }
            if let replaced, replaced.mailbox !== mailbox {
                replaced.watcher.cancel()
                replaced.mailbox.close(reason: .atom("normal"))
            }
            guard current else {
                watcher.cancel()
                mailbox.close(reason: .atom("normal"))
                return
            }
            if module == Atom(SimulatedBehaviour.AgentKind.alarms.rawValue) {
                // The alarm agent's first message: the alarms already set (none).
                try? await mailbox.send(.tuple([.atom("numbat_alarms"), .atom("sync"), .list([])]), to: owner)
            }
        }
    }

    /// Whether the agent `kind` runs (started and its owner still there).
    public func runs(_ kind: SimulatedBehaviour.AgentKind) -> Bool {
        state.withLockedValue { $0.agents[Atom(kind.rawValue)] != nil }
    }

    /// Whether the behaviour answers for the agent `kind` as running.
    public func behaviourRuns(_ kind: SimulatedBehaviour.AgentKind) -> Bool {
        state.withLockedValue { $0.behaviour.running[Atom(kind.rawValue)] != nil }
    }

    /// Who the emitter sends log events and alarms to now.
    public var owners: Owners {
        state.withLockedValue { state in
            var owners = Owners()
            if let agent = state.agents[Atom(SimulatedBehaviour.AgentKind.logs.rawValue)] {
                owners.logs = (agent.mailbox, agent.owner, state.behaviour.logLevel)
            }
            if let agent = state.agents[Atom(SimulatedBehaviour.AgentKind.alarms.rawValue)] {
                owners.alarms = (agent.mailbox, agent.owner)
            }
            return owners
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
