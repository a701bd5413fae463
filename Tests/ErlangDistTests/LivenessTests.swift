import ErlangDist
import ErlangTerm
import NumbatTestSupport
import Testing

/// Ticks and dead-peer detection (`net_ticktime`), and isolation between peers.
@Suite("liveness: ticks, frozen peers, stalls")
struct LivenessTests {
    /// The Erlang node's net_ticktime, in seconds: short, so the test waits seconds, not minutes.
    static let tickSeconds = 2

    @Test("an idle connection survives well past net_ticktime, whichever side ticks faster", arguments: OTPRelease.installed)
    func idleSurvives(release: OTPRelease) async throws {
        // Ours is 30x theirs: the Erlang node's ticks must be answered, or it drops us.
        for ours in [Duration.seconds(Self.tickSeconds), .seconds(Self.tickSeconds * 30)] {
            try await withPeer(release, extraArgs: ["-kernel", "net_ticktime", "\(Self.tickSeconds)"], tickTime: ours) { local, peer in
                _ = try await local.peerCall(peer, "start_collector")
                let events = local.nodeEvents()
                // Idle for three tick times: both sides would have declared the other dead twice over.
                let down = await nextEvent(events, within: .seconds(Self.tickSeconds * 3)) { _ in true }
                #expect(down == nil, "with our tick time \(ours)")
                #expect(try await local.peerCall(peer, "collected") == .list([]), "the Erlang side saw no nodedown")
                #expect(local.statistics.connections == 1)
            }
        }
    }

    @Test("a frozen peer (SIGSTOP) is detected as down by the tick timeout", arguments: OTPRelease.installed)
    func frozenPeer(release: OTPRelease) async throws {
        let tickTime = Duration.seconds(Self.tickSeconds)
        try await withPeer(release, extraArgs: ["-kernel", "net_ticktime", "\(Self.tickSeconds)"], tickTime: tickTime) { local, peer in
            try await local.connect(to: peer.name)
            let events = local.nodeEvents()
            peer.freeze()
            defer { peer.thaw() }
            // A generous bound: the reason says it was the tick timeout; how soon after the
            // freeze it comes (0.75 to 1.25 net_ticktime) is `numbat-bench --only timings`'s figure.
            let down = await nextEvent(events, within: .seconds(60)) { if case .down = $0 { true } else { false } }
            guard case .down(let node, let reason) = down else {
                Issue.record("no nodedown within 60 s")
                return
            }
            #expect(node == peer.name)
            #expect(reason.contains("net_ticktime"))
            #expect(local.statistics.connections == 0)
        }
    }

    @Test("one frozen peer does not slow calls to another", .timeLimit(.minutes(2)), arguments: OTPRelease.installed)
    func stallIsolation(release: OTPRelease) async throws {
        try await withPeer(release) { local, frozen in
            try await TestNode.with(release: release, cookie: frozen.cookie) { (healthy: TestNode) async throws in
                try await local.connect(to: frozen.name)
                try await local.connect(to: healthy.name)
                frozen.freeze()
                defer { frozen.thaw() }
                // Traffic to the frozen node: a call that cannot be answered and 8 MiB of messages
                // that fill its socket buffers.
                let stuck = Task { try? await local.rpc(frozen.name, "erlang", "node", timeout: .seconds(120)) }
                let sender = try local.makeMailbox()
                for _ in 0..<8 {
                    try await sender.send(.binary([UInt8](repeating: 7, count: 1 << 20)), to: "nobody", on: frozen.name)
                }
                while local.statistics.pendingReplies == 0 { try await Task.sleep(for: .milliseconds(10)) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<100 {
                        group.addTask { () async throws in
                            #expect(try await local.rpc(healthy.name, "erlang", "abs", [.integer(-index)], timeout: .seconds(60)) == .integer(index))
                        }
                    }
                    try await group.waitForAll()
                }
                // Every healthy call answered while the frozen node's call still waits (its
                // timeout is 120 s): the healthy ones did not queue behind it.
                #expect(local.statistics.pendingReplies == 1, "only the frozen node's call is still pending")
                stuck.cancel()
                _ = await stuck.value
                #expect(local.statistics.pendingReplies == 0)
            }
        }
    }
}

@Suite("short and long names side by side")
struct NameStyleTests {
    @Test("one local node reaches an -sname node and a -name node", arguments: OTPRelease.installed)
    func bothStyles(release: OTPRelease) async throws {
        try await withPeer(release, style: .long) { local, long in
            try await TestNode.with(release: release, style: .short, cookie: long.cookie) { (short: TestNode) async throws in
                #expect(try await local.rpc(long.name, "erlang", "node") == .atom(Atom(long.name.description)))
                #expect(try await local.rpc(short.name, "erlang", "node") == .atom(Atom(short.name.description)))
                let longSelf = local.localName(for: long.name)
                let shortSelf = local.localName(for: short.name)
                #expect(longSelf.isLong && !shortSelf.isLong)
                #expect(longSelf.alive == shortSelf.alive)
                // Each peer lists us, hidden, under the name of its own style.
                #expect(try await local.rpc(long.name, "erlang", "nodes", [.atom("hidden")]) == .list([.atom(Atom(longSelf.description))]))
                #expect(try await local.rpc(short.name, "erlang", "nodes", [.atom("hidden")]) == .list([.atom(Atom(shortSelf.description))]))
                #expect(try await local.rpc(long.name, "erlang", "nodes") == .list([]), "hidden, not visible")
                #expect(Set(local.connectedNodes) == [long.name, short.name])
            }
        }
    }
}
