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

    @Test("a frozen peer (SIGSTOP) is detected as down in about net_ticktime", arguments: OTPRelease.installed)
    func frozenPeer(release: OTPRelease) async throws {
        let tickTime = Duration.seconds(Self.tickSeconds)
        try await withPeer(release, extraArgs: ["-kernel", "net_ticktime", "\(Self.tickSeconds)"], tickTime: tickTime) { local, peer in
            try await local.connect(to: peer.name)
            let events = local.nodeEvents()
            let clock = ContinuousClock()
            let frozenAt = clock.now
            peer.freeze()
            defer { peer.thaw() }
            let down = await nextEvent(events, within: tickTime * 3) { if case .down = $0 { true } else { false } }
            let elapsed = clock.now - frozenAt
            guard case .down(let node, let reason) = down else {
                Issue.record("no nodedown within \(tickTime * 3)")
                return
            }
            #expect(node == peer.name)
            #expect(reason.contains("net_ticktime"))
            // Erlang's own window is 0.75 to 1.25 net_ticktime after the last data seen.
            #expect(elapsed >= tickTime * 0.5 && elapsed <= tickTime * 1.5, "detected after \(elapsed)")
            #expect(local.statistics.connections == 0)
        }
    }

    @Test("one frozen peer does not slow calls to another", arguments: OTPRelease.installed)
    func stallIsolation(release: OTPRelease) async throws {
        try await withPeer(release) { local, frozen in
            try await TestNode.with(release: release, cookie: frozen.cookie) { (healthy: TestNode) async throws in
                try await local.connect(to: frozen.name)
                try await local.connect(to: healthy.name)
                frozen.freeze()
                defer { frozen.thaw() }
                // Traffic to the frozen node: a call that cannot be answered and 8 MiB of messages
                // that fill its socket buffers.
                let stuck = Task { try? await local.rpc(frozen.name, "erlang", "node", timeout: .seconds(10)) }
                let sender = try local.makeMailbox()
                for _ in 0..<8 {
                    try await sender.send(.binary([UInt8](repeating: 7, count: 1 << 20)), to: "nobody", on: frozen.name)
                }
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<100 {
                        group.addTask { () async throws in
                            #expect(try await local.rpc(healthy.name, "erlang", "abs", [.integer(-index)], timeout: .seconds(5)) == .integer(index))
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(clock.now - start < .seconds(2), "100 calls to the healthy node took \(clock.now - start)")
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
