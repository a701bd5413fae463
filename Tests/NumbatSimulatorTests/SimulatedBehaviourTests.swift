import ErlangTerm
import NumbatServices
@testable import NumbatSimulator
import Testing

/// The simulated node's answers, call by call, as Numbat makes them (pure: no sockets).
@Suite("simulated node behaviour")
struct SimulatedBehaviourTests {
    static let profile = try! SimulatorProfile.bundled()
    static let owner = Pid(node: "numbat@127.0.0.1", id: 120, serial: 0, creation: 7)
    static let agentPid = Pid(node: "sim0@127.77.0.1", id: 300, serial: 0, creation: 9)

    func call(_ behaviour: inout SimulatedBehaviour, _ module: Atom, _ function: Atom, _ arguments: [Term] = [], at now: Double = 0)
        -> (reply: Term, effects: [SimulatedBehaviour.Effect])
    {
        behaviour.handle(.init(module, function, arguments), now: now, agentPid: { _ in Self.agentPid }, peers: ["sim1@127.77.0.1"],
                         hidden: ["numbat@127.0.0.1"])
    }

    @Test("the bundled profile was recorded from a real OTP 25 node and has every metric")
    func bundledProfile() throws {
        #expect(Self.profile.otpRelease == .string("25"))
        let metrics = try #require(Self.profile.collect[element: 1]?[element: 0]?.listElements)
        // Every metric of a plain node (no os_mon, no mnesia) on Linux, where it was recorded:
        // the profile is of the agent Numbat ships now.
        let names = Set(metrics.compactMap { $0[element: 0]?.atomValue?.name })
        let plain = MetricCatalog.builtIn.filter { $0.requires?.isMet(applications: [], linux: true) ?? true }.map(\.name)
        #expect(Set(plain).subtracting(names).isEmpty, "not in the profile: \(Set(plain).subtracting(names).sorted())")
        #expect(Self.profile.check[element: 1]?[.atom("process_count")]?.intValue != nil)
    }

    @Test("injection as Numbat does it: not loaded, loaded, then the same md5 on both sides")
    func injection() {
        var node = SimulatedBehaviour(profile: Self.profile, drift: MetricDrift(seed: 1))
        let beam: [UInt8] = Array("FOR1 fake beam bytes".utf8)
        #expect(call(&node, "code", "is_loaded", [.atom("numbat_metrics_agent")]).reply == .atom(.false))
        let loaded = call(&node, "code", "load_binary", [.atom("numbat_metrics_agent"), .string("numbat/numbat_metrics_agent.beam"), .binary(beam)])
        #expect(loaded.reply == .tuple([.atom("module"), .atom("numbat_metrics_agent")]))
        #expect(call(&node, "code", "is_loaded", [.atom("numbat_metrics_agent")]).reply[element: 0] == .atom("file"))
        let theirs = call(&node, "numbat_metrics_agent", "module_info", [.atom("md5")]).reply
        let ours = call(&node, "beam_lib", "md5", [.binary(beam)]).reply
        #expect(ours[element: 1]?[element: 1] == theirs)
        #expect(call(&node, "beam_lib", "md5", [.binary(Array("other".utf8))]).reply[element: 1]?[element: 1] != theirs)
    }

    @Test("collect answers not_running until the agent starts, then the profile's metrics, changing with time")
    func collect() throws {
        var node = SimulatedBehaviour(profile: Self.profile, drift: MetricDrift(seed: 1))
        _ = call(&node, "code", "load_binary", [.atom("numbat_metrics_agent"), .string("x"), .binary([1])])
        #expect(call(&node, "numbat_metrics_agent", "collect", [.integer(5000)]).reply == .tuple([.atom("error"), .atom("not_running")]))
        let started = call(&node, "numbat_metrics_agent", "start", [.pid(Self.owner), .map([:])])
        #expect(started.reply == .tuple([.atom("ok"), .pid(Self.agentPid)]))
        #expect(started.effects == [.startAgent(module: "numbat_metrics_agent", owner: Self.owner)])
        let early = call(&node, "numbat_metrics_agent", "collect", [.integer(5000)], at: 10).reply
        let late = call(&node, "numbat_metrics_agent", "collect", [.integer(5000)], at: 70).reply
        #expect(early[element: 0] == .atom("ok"))
        let reductions = { (reply: Term) in reply[element: 1]?[element: 0]?[.atom("reductions")]?.intValue ?? -1 }
        #expect(reductions(late) > reductions(early))
        #expect(call(&node, "erlang", "whereis", [.atom("numbat_metrics_agent")]).reply == .pid(Self.agentPid))
    }

    @Test("a second start stops the first agent; stop and delete end it; the owner's loss deletes the module")
    func agentLifecycle() {
        var node = SimulatedBehaviour(profile: Self.profile, drift: MetricDrift(seed: 1))
        _ = call(&node, "code", "load_binary", [.atom("numbat_log_agent"), .string("x"), .binary([1])])
        _ = call(&node, "numbat_log_agent", "start", [.pid(Self.owner), .map([.atom("level"): .atom("warning")])])
        #expect(node.logLevel == "warning")
        let again = call(&node, "numbat_log_agent", "start", [.pid(Self.owner), .map([:])])
        #expect(again.effects.first == .stopAgent(module: "numbat_log_agent"))
        #expect(call(&node, "numbat_log_agent", "set_level", [.atom("error")]).reply == .atom("ok"))
        #expect(node.logLevel == "error")
        node.ownerLost("numbat_log_agent", agent: Self.agentPid)
        #expect(node.running.isEmpty)
        #expect(call(&node, "code", "is_loaded", [.atom("numbat_log_agent")]).reply == .atom(.false))
    }

    @Test("the probe, neighbours, and the undef a node without the function gives")
    func probeAndUnknown() {
        var node = SimulatedBehaviour(profile: Self.profile, drift: MetricDrift(seed: 1))
        #expect(call(&node, "erlang", "system_info", [.atom("otp_release")]).reply == .string("25"))
        #expect(call(&node, "init", "script_id").reply == Self.profile.scriptID)
        // Numbat's hidden node is not among the visible nodes, as on a real node.
        #expect(call(&node, "erlang", "nodes").reply == .list([.atom("sim1@127.77.0.1")]))
        #expect(call(&node, "erlang", "nodes", [.list([.atom("visible"), .atom("hidden")])]).reply
            == .list([.atom("sim1@127.77.0.1"), .atom("numbat@127.0.0.1")]))
        #expect(call(&node, "erlang", "nodes", [.atom("hidden")]).reply == .list([.atom("numbat@127.0.0.1")]))
        let missing = call(&node, "lists", "reverse", [.list([])]).reply
        #expect(missing[element: 0] == .atom("badrpc"))
        #expect(missing[element: 1]?[element: 1]?[element: 0] == .atom("undef"))
        // An agent's function before its module is loaded is undef too, as on a real node.
        #expect(call(&node, "numbat_metrics_agent", "collect", [.integer(1)]).reply[element: 0] == .atom("badrpc"))
    }
}
