@testable import ErlangDist
import ErlangTerm
import NumbatTestSupport
import Testing

@Suite("rpc against real OTP nodes")
struct RPCTests {
    @Test("a task preferring the connection's executor sends and is resumed on the peer's event loop, call after call",
          arguments: OTPRelease.installed)
    func onTheEventLoop(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let local = try makeLocalNode(cookie: peer.cookie)
            defer { Task { await local.shutdown() } }
            #expect(local.taskExecutor(for: peer.name) == nil, "no executor before a connection")
            try await local.connect(to: peer.name)
            let executor = try #require(local.taskExecutor(for: peer.name))
            let resumedOnLoop = try await Task(executorPreference: executor) { () async throws -> [Bool] in
                var seen: [Bool] = []
                for _ in 0..<20 {
                    let answer = try await local.rpc(peer.name, "erlang", "node")
                    #expect(answer == .atom(Atom(peer.name.description)))
                    seen.append(executor.eventLoop.inEventLoop)
                }
                return seen
            }.value
            #expect(resumedOnLoop == Array(repeating: true, count: 20), "\(resumedOnLoop)")
            // Off the preference, the same call resumes on Swift's pool (the hop it saves).
            _ = try await local.rpc(peer.name, "erlang", "node")
            #expect(!executor.eventLoop.inEventLoop)
        }
    }

    @Test("without auto-connect, only connect(to:) dials: calls and sends to a node not connected fail with noConnection, monitors are DOWN",
          arguments: OTPRelease.installed)
    func noAutoConnect(release: OTPRelease) async throws {
        try await TestNode.with(release: release) { peer in
            let local = try makeLocalNode(cookie: peer.cookie, autoConnect: false)
            defer { Task { await local.shutdown() } }
            let inbox = try local.makeMailbox()
            func refused(_ what: String, _ body: () async throws -> Void) async {
                do {
                    try await body()
                    Issue.record("\(what) dialled the node")
                } catch DistributionError.noConnection(let node) {
                    #expect(node == peer.name, "\(what)")
                } catch {
                    Issue.record("\(what): \(error)")
                }
            }
            await refused("an rpc") { _ = try await local.rpc(peer.name, "erlang", "node") }
            await refused("a send") { try await inbox.send("hello", to: "numbat_echo", on: peer.name) }
            // As in Erlang, a monitor on a node that cannot be reached is DOWN noconnection at once.
            let ref = try await inbox.monitor(name: "numbat_echo", on: peer.name)
            #expect(try await inbox.receive(timeout: .seconds(5))
                == .down(ref: ref, process: .tuple([.atom("numbat_echo"), .atom(Atom(peer.name.description))]), reason: .atom("noconnection")))
            #expect(local.connectedNodes.isEmpty, "nothing was dialled")

            try await local.connect(to: peer.name)
            #expect(try await local.rpc(peer.name, "erlang", "node") == .atom(Atom(peer.name.description)))
            await local.disconnect(peer.name)
            await refused("an rpc after disconnecting") { _ = try await local.rpc(peer.name, "erlang", "node") }
        }
    }

    /// The reply decoded flat off the connection is the term `rpc` gets: a rich term made in
    /// Swift and returned by `binary_to_term` (atoms come back through the atom cache), a
    /// reply big enough to arrive in fragments, and `badrpc` as an error.
    @Test("rpcFlat reads the same reply as rpc, whole or fragmented, and throws badrpc", arguments: OTPRelease.installed)
    func flatReplies(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let rich = Term.tuple([
                .atom("metrics"), .integer(-5), .integer(1 << 40), .float(0.25),
                .binary(Array("name".utf8)), .string("chars"), .list([.atom("café"), .list([])]),
                .map([.atom("a"): .integer(1), .binary([1, 2]): .tuple([]), .integer(7): .list([.float(-1.5)])]),
                .improperList([.integer(1)], tail: .atom("tail")), .makeBitstring([0xF0], bitsInLastByte: 4),
            ])
            let cases: [(Atom, Atom, [Term])] = [
                ("erlang", "binary_to_term", [.binary(rich.encoded())]),
                // About 600 KB: the peer sends it in fragments.
                ("lists", "duplicate", [.integer(10_000), .tuple([.atom("sample"), .binary([UInt8](repeating: 7, count: 48))])]),
                ("lists", "seq", [.integer(1), .integer(50_000)]),
                ("erlang", "bsl", [.integer(1), .integer(80)]),
            ]
            for (module, function, arguments) in cases {
                let term = try await local.rpc(peer.name, module, function, arguments)
                let flat = try await local.rpcFlat(peer.name, module, function, arguments)
                #expect(flat.term == term, "\(module):\(function)")
            }
            // Every reply came decoded flat off the connection, none as a `Term` converted after.
            #expect(local.state.withLockedValue(\.flatReplies) == cases.count)
            #expect(try await local.rpcFlat(peer.name, "erlang", "binary_to_term", [.binary(rich.encoded())]).term == rich)
            do {
                _ = try await local.rpcFlat(peer.name, "erlang", "no_such_function", [])
                Issue.record("an undefined function returned")
            } catch DistributionError.badRPC(let reason) {
                #expect(reason.tupleElements?.first == .atom("EXIT"), "\(reason)")
            }
        }
    }

    @Test("erlang:memory/0 returns every memory area", arguments: OTPRelease.installed)
    func memory(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let memory = try await local.rpc(peer.name, "erlang", "memory")
            let total = try #require(memory[.atom("total")]?.intValue)
            let processes = try #require(memory[.atom("processes")]?.intValue)
            let system = try #require(memory[.atom("system")]?.intValue)
            #expect(total == processes + system)
            #expect(total > 1_000_000)
        }
    }

    @Test("init:script_id/0 names the boot script", arguments: OTPRelease.installed)
    func scriptID(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let id = try await local.rpc(peer.name, "init", "script_id")
            let parts = try #require(id.tupleElements)
            #expect(parts.count == 2)
            #expect(parts[1].stringValue == release.rawValue)
        }
    }

    @Test("a call that raises gives the Erlang reason", arguments: OTPRelease.installed)
    func raising(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            do {
                _ = try await local.rpc(peer.name, "erlang", "error", [.atom("boom")])
                Issue.record("expected badrpc")
            } catch DistributionError.badRPC(let reason) {
                // {'EXIT', {boom, Stacktrace}}
                #expect(reason[element: 0] == .atom("EXIT"))
                #expect(reason[element: 1]?[element: 0] == .atom("boom"))
                #expect(DistributionError.badRPC(reason).description.contains("boom"))
            }
            do {
                _ = try await local.rpc(peer.name, "no_such_module", "f")
                Issue.record("expected badrpc")
            } catch DistributionError.badRPC(let reason) {
                #expect(reason.description.contains("undef"))
            }
        }
    }

    @Test("a call that times out leaves nothing behind", arguments: OTPRelease.installed)
    func timeout(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await local.connect(to: peer.name)
            // The 300 ms timeout ends the call before the 1.5 s sleep answers; how close to 300 ms
            // it fires is `numbat-bench --only timings`'s figure.
            do {
                _ = try await local.rpc(peer.name, "timer", "sleep", [1500], timeout: .milliseconds(300))
                Issue.record("expected a timeout")
            } catch DistributionError.timeout {
                // Expected: the timeout, not the answer.
            }
            #expect(local.statistics.pendingReplies == 0)
            // The late reply arrives and is dropped; the connection keeps working.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await local.rpc(peer.name, "erlang", "node") == .atom(Atom(peer.name.description)))
            #expect(local.statistics.pendingReplies == 0)
            #expect(local.statistics.connections == 1)
        }
    }

    /// The node's one reply timer (`ReplyDeadlines`): set for the earliest deadline, set sooner
    /// by a call due sooner than the one it waits for, gone while no reply waits and set again
    /// by the next call.
    @Test("a short timeout beside a long one fires at its own time, and the timer comes back after none waited",
          .timeLimit(.minutes(1)), arguments: OTPRelease.installed)
    func timerFollowsTheEarliestReply(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await local.connect(to: peer.name)
            func timerSet() -> Bool { local.state.withLockedValue { $0.replyTimer != nil } }
            let long = Task { try await local.rpc(peer.name, "timer", "sleep", [30_000], timeout: .seconds(50)) }
            // The call registers its reply, then sets the timer: waited for (the time limit
            // fails a timer never set).
            while local.statistics.pendingReplies == 0 || !timerSet() { try await Task.sleep(for: .milliseconds(10)) }
            // Set for the long call's deadline (50 s away) before this one: it must be set
            // sooner, or this call would wait past the test's time limit.
            let clock = ContinuousClock()
            let started = clock.now
            do {
                _ = try await local.rpc(peer.name, "timer", "sleep", [1500], timeout: .milliseconds(300))
                Issue.record("expected a timeout")
            } catch DistributionError.timeout {
                #expect(clock.now - started < .seconds(25))
            }
            long.cancel()
            try await Self.expectEndedByCancellation(long, local)
            // Set again for the long call's deadline before the short call's timeout was
            // resumed, and still set after its cancellation; a call due sooner sets it sooner,
            // and when it goes off nothing else waits: no timer is left.
            #expect(timerSet())
            for _ in 0..<2 {
                do {
                    _ = try await local.rpc(peer.name, "timer", "sleep", [1500], timeout: .milliseconds(200))
                    Issue.record("expected a timeout")
                } catch DistributionError.timeout {
                    // Expected: the second call finds no timer and sets one.
                }
                #expect(!timerSet())
                #expect(local.statistics.pendingReplies == 0)
            }
        }
    }

    /// `call` ended by its cancellation (the rpc's `.timeout("... was cancelled")`), with no
    /// reply left waiting on `local`.
    static func expectEndedByCancellation(_ call: Task<Term, any Error>, _ local: LocalNode) async throws {
        do {
            _ = try await call.value
            Issue.record("expected the cancellation to end the call")
        } catch DistributionError.timeout(let what) {
            #expect(what.contains("cancelled"))
        }
        #expect(local.statistics.pendingReplies == 0)
    }

    @Test("a cancelled call ends at once and leaves nothing behind", arguments: OTPRelease.installed)
    func cancelled(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await local.connect(to: peer.name)
            let call = Task { try await local.rpc(peer.name, "timer", "sleep", [30_000], timeout: .seconds(60)) }
            // Cancelled once the call is registered (a pending reply), long before its answer or timeout.
            while local.statistics.pendingReplies == 0 { try await Task.sleep(for: .milliseconds(10)) }
            call.cancel()
            try await Self.expectEndedByCancellation(call, local)
        }
    }

    /// A per-node part stopped just before its next call (a worker's `stop()` cancels the run
    /// about to call) must not wait out the call's timeout: the cancellation came before there
    /// was a reply to cancel.
    @Test("a call made by a task already cancelled ends at once, sends nothing and leaves nothing behind",
          .timeLimit(.minutes(1)), arguments: OTPRelease.installed)
    func cancelledBeforeTheCall(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await local.connect(to: peer.name)
            let call = Task { () async throws -> Term in
                withUnsafeCurrentTask { $0?.cancel() }
                // Would set an application variable on the peer if it were sent.
                return try await local.rpc(peer.name, "application", "set_env", [.atom("kernel"), .atom("numbat_cancelled_call"), .atom("true")],
                                           timeout: .seconds(3600))
            }
            try await Self.expectEndedByCancellation(call, local)
            let variable = try await local.rpc(peer.name, "application", "get_env", [.atom("kernel"), .atom("numbat_cancelled_call")])
            #expect(variable == .atom("undefined"), "nothing was sent")
        }
    }

    @Test("a call in flight when the node shuts down ends then, and none starts after", arguments: OTPRelease.installed)
    func shutdownEndsCalls(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await local.connect(to: peer.name)
            let call = Task { try await local.rpc(peer.name, "timer", "sleep", [30_000], timeout: .seconds(60)) }
            while local.statistics.pendingReplies == 0 { try await Task.sleep(for: .milliseconds(10)) }
            await local.shutdown()
            // Ended by the shutdown (its 60 s timeout and the 30 s sleep are far off).
            await #expect(throws: DistributionError.self) { try await call.value }
            #expect(local.statistics.pendingReplies == 0)
            await #expect(throws: DistributionError.self) { try await local.rpc(peer.name, "erlang", "node") }
        }
    }

    /// The busy wait against a real node: which calls spin is learned from their replies, and
    /// the process's spinner thread sleeps again once the calls end. The budget is 500 ms here
    /// (200 µs in the server) so that a loaded machine's slow loopback reply cannot make the
    /// quick kind look slow; the slow kind sleeps three budgets on the node.
    @Test("quick calls spin for their replies, a slow kind stops after its first, and the spinner then sleeps",
          .timeLimit(.minutes(2)), arguments: OTPRelease.installed)
    func busyWait(release: OTPRelease) async throws {
        try await withPeer(release, busyWait: .milliseconds(500)) { local, peer in
            try await local.connect(to: peer.name)
            let quick = BusyWaitPolicy.Kind(module: "erlang", function: "node")
            let slow = BusyWaitPolicy.Kind(module: "timer", function: "sleep")
            let armed = ReplySpinner.shared.arms
            func spunCalls() -> Int { local.state.withLockedValue { $0.spunCalls } }
            for _ in 0..<5 { #expect(try await local.rpc(peer.name, "erlang", "node") == .atom(Atom(peer.name.description))) }
            // Every one of the lone quick calls spun, and armed the process's spinner (other
            // tests' calls may arm it too).
            #expect(spunCalls() == 5)
            #expect(ReplySpinner.shared.arms >= armed + 5)
            // Work nobody waits on (a periodic collection) does not spin.
            try await LocalNode.$busyWaits.withValue(false) {
                for _ in 0..<3 { _ = try await local.rpc(peer.name, "erlang", "node") }
            }
            #expect(spunCalls() == 5)
            _ = try await local.rpc(peer.name, "timer", "sleep", [1500])
            #expect(spunCalls() == 6, "a kind never answered spins once, to learn")
            _ = try await local.rpc(peer.name, "timer", "sleep", [1500])
            #expect(spunCalls() == 6, "a slow kind spins no more")
            let (quickSpins, slowSpins, slowAverage) = local.state.withLockedValue {
                ($0.busyWait.wouldSpin(quick), $0.busyWait.wouldSpin(slow), $0.busyWait.average(of: slow))
            }
            #expect(quickSpins)
            #expect(!slowSpins)
            #expect((slowAverage ?? 0) >= 1_500_000_000)
            // The spinner stops on its own once no armed call is left: at most a budget after
            // the last arm (other tests' calls may arm it again, so it is caught asleep at some
            // point within the bound, not at once).
            let deadline = ContinuousClock.now + .seconds(60)
            while ReplySpinner.shared.isSpinning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            #expect(!ReplySpinner.shared.isSpinning)
            #expect(local.statistics.pendingReplies == 0)
        }
    }

    @Test("many concurrent calls on one connection each get their own answer", arguments: OTPRelease.installed)
    func concurrent(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let reversed = try await local.rpc(peer.name, "lists", "reverse", [.list([.integer(index), 1, 2])])
                        #expect(reversed == .list([2, 1, .integer(index)]))
                    }
                }
                try await group.waitForAll()
            }
            #expect(local.statistics.pendingReplies == 0)
        }
    }

    @Test("exotic results decode and print readably", arguments: OTPRelease.installed)
    func exotic(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let ref = try await local.rpc(peer.name, "erlang", "make_ref")
            #expect(ref.referenceValue?.node == Atom(peer.name.description))
            let pid = try await local.rpc(peer.name, "erlang", "whereis", [.atom("init")])
            #expect(pid.pidValue?.node == Atom(peer.name.description))
            let big = try await local.rpc(peer.name, "erlang", "binary_to_integer", [Term("123456789012345678901234567890")])
            #expect(big.description == "123456789012345678901234567890")
            let port = try await local.rpc(peer.name, "erlang", "list_to_port", [.string("#Port<0.4>")])
            if case .port = port {} else { Issue.record("expected a port, got \(port)") }
            let fun = try await local.rpc(peer.name, "erlang", "make_fun", [.atom("lists"), .atom("map"), 2])
            #expect(fun == .export(module: "lists", function: "map", arity: 2))
        }
    }
}

@Suite("per-node cookies")
struct CookieTests {
    @Test("one local node reaches nodes with different cookies, dialling out and being dialled")
    func perNodeCookies() async throws {
        try await TestNode.with(release: .otp25, cookie: "first-cookie") { first in
            try await TestNode.with(release: .otp25, cookie: "second-cookie") { (second: TestNode) async throws in
                let local = try makeLocalNode(cookie: "default-cookie")
                await expectError(try await local.connect(to: first.name)) {
                    if case .authenticationFailed = $0 { true } else { false }
                }
                local.setCookie("first-cookie", for: first.name)
                local.setCookie("second-cookie", for: second.name)
                #expect(try await local.rpc(first.name, "erlang", "get_cookie") == .atom("first-cookie"))
                #expect(try await local.rpc(second.name, "erlang", "get_cookie") == .atom("second-cookie"))

                // Incoming: a node dials a listening local node with the cookie set for its name;
                // a stranger with a cookie not set for it is refused.
                try await local.listen()
                let me = local.localName(for: second.name)
                let caller = NodeName(alive: "caller\(UInt32.random(in: 0...UInt32.max))", host: "127.0.0.1")
                local.setCookie("caller-cookie", for: caller)
                let ping = "io:format(\"~p~n\", [net_adm:ping('\(me)')]), halt()."
                let known = try await ErlangScript.run(.otp25, ping, extraArgs: ["-name", caller.description, "-setcookie", "caller-cookie"])
                #expect(known.contains("pong"))
                let stranger = try await ErlangScript.run(.otp25, ping, extraArgs: ["-name", "stranger\(UInt32.random(in: 0...UInt32.max))@127.0.0.1", "-setcookie", "caller-cookie"])
                #expect(stranger.contains("pang"))
                await local.shutdown()
            }
        }
    }
}
