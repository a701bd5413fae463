import ErlangTerm
import Foundation
import NumbatAPI
import NumbatCore
@testable import NumbatServices
import NumbatTestSupport
import Testing

/// Tracing's pure parts, directly: the request checks (`TraceSpec`), the session's state
/// changes (`TraceSession+Lifecycle`), and the tracer's rate window, the very function the
/// agent runs (`numbat_trace_agent:rate_window/4`), on OTP 25 and 28.
@Suite("tracing: request checks, session states, rate window")
struct TraceUnitTests {
    static let limits = TraceSpec.Limits()

    /// The options term's map.
    static func map(_ term: Term) -> [Term: Term] {
        if case .map(let map) = term { return map }
        return [:]
    }

    static func refusal(_ request: StartTraceRequest) -> String? {
        do {
            _ = try TraceSpec(request, limits: limits)
            return nil
        } catch let error as NumbatError {
            return error.kind == .badRequest ? error.code : "not a 400: \(error)"
        } catch {
            return "\(error)"
        }
    }

    @Test("mfa: module:function/arity, _ for any function or arity, quoted atoms; a bare or unnamed module is refused")
    func mfa() throws {
        #expect(try TraceSpec.mfa("lists:seq/2") == ("lists", "seq", 2))
        #expect(try TraceSpec.mfa("lists:_/_") == ("lists", nil, nil))
        #expect(try TraceSpec.mfa("'Elixir.Foo.Bar':handle/3") == ("Elixir.Foo.Bar", "handle", 3))
        #expect(try TraceSpec.mfa("Elixir.Foo:run/0") == ("Elixir.Foo", "run", 0))
        for bad in ["lists", "lists:seq", "lists/2", ":seq/2", "lists:/2", "lists:seq/x", "lists:seq/256", "lists:seq/-1", "_:seq/2", "a b:c/1"] {
            #expect(throws: NumbatError.self, "\(bad)") { try TraceSpec.mfa(bad) }
        }
    }

    @Test("match specs: shorthands, Erlang syntax, and clear refusals")
    func matchSpecs() throws {
        #expect(try TraceSpec.matchSpec("return_trace") == TermParser.parse("[{'_', [], [{return_trace}]}]"))
        #expect(try TraceSpec.matchSpec(" exception_trace ") == TermParser.parse("[{'_', [], [{exception_trace}]}]"))
        let guarded = try TraceSpec.matchSpec("[{['$1', '_'], [{'>', '$1', 10}], [{return_trace}]}].")
        #expect(guarded.listElements?.count == 1)
        for bad in ["[{", "return", "[]", "{'_', [], []}", "[{'_', [], x}]", "[{'_', []}]"] {
            #expect(throws: NumbatError.self, "\(bad)") { try TraceSpec.matchSpec(bad) }
        }
    }

    @Test("requests: defaults, caps, kinds and their fields; 400s name the field")
    func requests() throws {
        let spec = try TraceSpec(StartTraceRequest(node: "a@h", mfa: "lists:seq/2"), limits: Self.limits)
        #expect(spec.kind == .call && spec.maxCount == 100 && spec.maxRate == 1000 && spec.rateWindowMs == 1000 && spec.durationSeconds == 60)
        #expect(spec.target == "lists:seq/2" && spec.matchSpec == nil)
        let options = Self.map(spec.options(session: UUID()))
        #expect(options[.atom("mfa")] == .tuple([.binary(Array("lists".utf8)), .binary(Array("seq".utf8)), .integer(2)]) && options[.atom("match_spec")] == .atom(.true))
        #expect(options[.atom("max_rate")] == .tuple([.integer(1000), .integer(1000)]) && options[.atom("duration_ms")] == .integer(60000))
        let gc = try TraceSpec(StartTraceRequest(node: "a@h", kind: "gc", maxCount: 5), limits: Self.limits)
        #expect(gc.target == "all" && Self.map(gc.options(session: UUID()))[.atom("target")] == nil)
        let messages = try TraceSpec(StartTraceRequest(node: "a@h", kind: "messages", process: "0.80.0"), limits: Self.limits)
        #expect(Self.map(messages.options(session: UUID()))[.atom("target")] == .binary(Array("<0.80.0>".utf8)))
        let named = try TraceSpec(StartTraceRequest(node: "a@h", kind: "messages", process: "my_server"), limits: Self.limits)
        #expect(Self.map(named.options(session: UUID()))[.atom("target")] == .tuple([.atom("name"), .binary(Array("my_server".utf8))]))

        #expect(Self.refusal(StartTraceRequest(node: "a", kind: "ports", mfa: "a:b/1")) == "invalid_kind")
        #expect(Self.refusal(StartTraceRequest(node: "a")) == "invalid_mfa")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", matchSpec: "[{")) == "invalid_match_spec")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", process: "x")) == "invalid_process")
        #expect(Self.refusal(StartTraceRequest(node: "a", kind: "messages")) == "invalid_process")
        #expect(Self.refusal(StartTraceRequest(node: "a", kind: "messages", process: "Not-A-Name")) == "invalid_process")
        #expect(Self.refusal(StartTraceRequest(node: "a", kind: "gc", mfa: "a:b/1")) == "invalid_mfa")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", maxCount: 0)) == "invalid_max_count")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", maxCount: 100_001)) == "invalid_max_count")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", maxRate: -1)) == "invalid_max_rate")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", rateWindowMs: 60_001)) == "invalid_rate_window_ms")
        #expect(Self.refusal(StartTraceRequest(node: "a", mfa: "a:b/1", durationS: 3601)) == "invalid_duration_s")
    }

    static func session(nodes: Int, maxCount: Int = 10) -> TraceSession {
        TraceSession(kind: .call, target: "m:f/1", matchSpec: nil, familyID: nil, maxCount: maxCount, maxRate: 100, rateWindowMs: 1000,
                     durationSeconds: 60, actor: "admin", startedAt: Date(timeIntervalSince1970: 0),
                     nodes: (0..<nodes).map { TraceSession.NodePart(nodeID: UUID(), nodeName: "n\($0)@h") })
    }

    @Test("a session keeps at most max_count events per node, none after a part ended; it ends with its last part, once")
    func lifecycle() {
        var session = Self.session(nodes: 2)
        let (a, b) = (session.nodes[0].nodeID, session.nodes[1].nodeID)
        let admitted = [session.admit(4, from: a), session.admit(8, from: a), session.admit(1, from: a), session.admit(3, from: UUID()), session.admit(2, from: b)]
        #expect(admitted == [4, 6, 0, 0, 2], "capped at max_count per node; none from an unknown node")
        let endedByA = session.end(node: a, reason: .maxCount, at: Date(timeIntervalSince1970: 5))
        #expect(!endedByA, "b still runs")
        #expect(session.state == .running && session.nodes[0].state == .ended && session.nodes[0].endReason == .maxCount)
        let endedAgain = session.end(node: a, reason: .stopped, at: Date(timeIntervalSince1970: 6))
        #expect(!endedAgain, "a part ends once")
        #expect(session.nodes[0].endReason == .maxCount)
        let endedByB = session.end(node: b, reason: .rateLimit, dropped: 3, at: Date(timeIntervalSince1970: 7))
        #expect(endedByB)
        #expect(session.state == .ended && session.endedAt == Date(timeIntervalSince1970: 7) && session.nodes[1].dropped == 3)
        let late = session.admit(1, from: b)
        #expect(late == 0, "nothing once ended")
        #expect(session.kept == 12)

        var abandoned = Self.session(nodes: 2)
        abandoned.end(node: abandoned.nodes[0].nodeID, reason: .timeLimit, at: Date(timeIntervalSince1970: 1))
        abandoned.endAll(reason: .disconnected, at: Date(timeIntervalSince1970: 2))
        #expect(abandoned.state == .ended && abandoned.nodes.map(\.endReason) == [.timeLimit, .disconnected])
    }

    @Test("the tracer's rate window (recon_trace's {N, Ms}): N events per window kept, one more stops; a new window starts afresh",
          arguments: OTPRelease.installed)
    func rateWindow(release: OTPRelease) async throws {
        let beam = PackagePaths.root.appendingPathComponent("Sources/NumbatServices/Resources/agents/numbat_trace_agent.beam").path
        let output = try await ErlangScript.run(release, """
            {ok, Bin} = file:read_file("\(beam)"),
            {module, M} = code:load_binary(numbat_trace_agent, "numbat_trace_agent.beam", Bin),
            Run = fun(Times, N, Ms) ->
                      lists:foldl(fun(_, stop) -> stop;
                                     (T, {W, Kept}) -> case M:rate_window(T, W, N, Ms) of
                                                           stop -> {stopped_at, T, Kept};
                                                           {keep, W1} -> {W1, Kept + 1}
                                                       end;
                                     (_, Done) -> Done
                                  end, {{0, 0}, 0}, Times)
                  end,
            io:format("~w~n~w~n~w~n", [Run([1, 2, 3], 3, 100), Run([1, 2, 3, 4], 3, 100), Run([1, 2, 3, 150, 151, 152, 200, 260], 3, 100)]),
            halt().
            """)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines == ["{{0,3},3}", "{stopped_at,4,3}", "{stopped_at,200,6}"], "\(output)")
    }
}
