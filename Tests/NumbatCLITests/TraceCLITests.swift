import ErlangDist
import ErlangTerm
import Foundation
import NumbatTestSupport
import Testing

/// `numbat trace` against `numbat serve` as a process: a call trace streamed to the terminal
/// until its limit, then `list`, `show`; and the server killed with SIGKILL while a session
/// runs: the node clears the trace by itself, within a bounded wait.
@Suite("numbat trace with numbat serve")
struct TraceCLITests {
    @Test("trace call streams events until max_count; list and show read it; kill -9 of the server mid-trace leaves the node clean")
    func traceAndKill() async throws {
        try await TestNode.with(release: .otp25, cookie: "trace-test-cookie") { peer in
            try await ServeSession.with { session in
                let observer = try LocalNode(.init(name: "observer\(UInt32.random(in: 0...UInt32.max))", cookie: peer.cookie))
                func eval(_ text: String) async throws -> String {
                    try await observer.rpc(peer.name, "numbat_test_peer", "eval", [.binary(Array(text.utf8))]).erlangDescription
                }
                let name = peer.name.description
                #expect(try await session.numbat("node", "add", name, "--cookie", peer.cookie).status == 0)
                _ = try await eval("Loop = fun Loop(N) -> _ = lists:seq(1, 2), case N rem 100 of 0 -> erlang:yield(); _ -> ok end, Loop(N + 1) end, register(numbat_hot1, spawn(fun() -> Loop(0) end)), ok.")

                let traced = try await session.numbat("trace", "call", "lists:seq/2", "--node", name, "--max", "20", "--rate", "100000", "--duration", "60")
                #expect(traced.status == 0, "\(traced.standardError)")
                let lines = traced.standardOutput.split(separator: "\n").map(String.init)
                #expect(lines.filter { $0.contains("  call  lists:seq(1, 2)") }.count == 20, "\(traced.standardOutput)")
                #expect(traced.standardOutput.contains("\(name): ended, 20 kept, ended: max_count"), "\(traced.standardOutput)")
                let listed = try await session.numbat("trace", "list")
                #expect(listed.standardOutput.contains("lists:seq/2") && listed.standardOutput.contains("ended"), "\(listed.standardOutput)")
                let id = try #require(listed.standardOutput.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
                let shown = try await session.numbat("trace", "show", id)
                #expect(shown.standardOutput.split(separator: "\n").filter { $0.contains("  call  ") }.count == 20, "\(shown.standardOutput)")
                let bad = try await session.numbat("trace", "call", "lists:seq", "--node", name)
                #expect(bad.status == 1 && bad.standardError.contains("mfa must be module:function/arity"), "\(bad.standardError)")

                // A long session, then the server killed: the node sees its owner go and clears it all.
                let detached = try await session.numbat("trace", "call", "numbat_test_peer:ready/0", "--node", name, "--duration", "3600", "--detach")
                #expect(detached.status == 0 && detached.standardOutput.contains("running"), "\(detached.standardOutput)\(detached.standardError)")
                #expect(try await eval("erlang:trace_info({numbat_test_peer, ready, 0}, traced).") == "{traced,local}")
                #expect(try await eval("is_pid(whereis(numbat_trace_agent)).") == "true")
                session.server.kill()
                var left = ""
                let cleared = try await eventually(within: .seconds(30)) {
                    left = try await eval("{erlang:trace_info({numbat_test_peer, ready, 0}, traced), erlang:trace_info(new, tracer), whereis(numbat_trace_agent), code:is_loaded(numbat_trace_agent)}.")
                    return left == "{{traced,false},{tracer,[]},undefined,false}"
                }
                #expect(cleared, "left on the node after kill -9 of the server: \(left)")
                _ = try await eval("exit(whereis(numbat_hot1), kill), ok.")
                await observer.shutdown()
            }
        }
    }
}
