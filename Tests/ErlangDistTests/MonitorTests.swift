import ErlangDist
import ErlangTerm
import NumbatTestSupport
import Testing

@Suite("monitors and links between Swift mailboxes and Erlang processes")
struct MonitorTests {
    @Test("a monitored Erlang process exits: DOWN with its reason", arguments: OTPRelease.installed)
    func downWithReason(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let mailbox = try local.makeMailbox()
            let exiter = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            let ref = try await mailbox.monitor(exiter)
            let reason: Term = .tuple([.atom("shutdown"), "disk full"])
            try await mailbox.send(.tuple([.atom("exit"), reason]), to: exiter)
            let down = try await mailbox.receive(timeout: .seconds(5))
            #expect(down == .down(ref: ref, process: .pid(exiter), reason: reason))
        }
    }

    @Test("monitoring a registered name reports {Name, Node}; a dead pid gives noproc", arguments: OTPRelease.installed)
    func byNameAndNoproc(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let mailbox = try local.makeMailbox()
            _ = try await local.peerCall(peer, "start_echo")
            let ref = try await mailbox.monitor(name: "numbat_echo", on: peer.name)
            try await mailbox.send(.atom("stop"), to: "numbat_echo", on: peer.name)
            let down = try await mailbox.receive(timeout: .seconds(5))
            #expect(down == .down(ref: ref, process: .tuple([.atom("numbat_echo"), .atom(Atom(peer.name.description))]), reason: .atom("normal")))

            let exiter = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            try await mailbox.send(.tuple([.atom("exit"), .atom("normal")]), to: exiter)
            // Wait until the process is gone, then monitor the dead pid.
            while try await local.rpc(peer.name, "erlang", "is_process_alive", [.pid(exiter)]) == .atom(.true) {}
            let late = try await mailbox.monitor(exiter)
            #expect(try await mailbox.receive(timeout: .seconds(5)) == .down(ref: late, process: .pid(exiter), reason: .atom("noproc")))
        }
    }

    @Test("after demonitor no DOWN arrives", arguments: OTPRelease.installed)
    func demonitor(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let mailbox = try local.makeMailbox()
            _ = try await local.peerCall(peer, "start_echo")
            let exiter = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            let ref = try await mailbox.monitor(exiter)
            mailbox.demonitor(ref)
            try await mailbox.send(.tuple([.atom("exit"), .atom("bye")]), to: exiter)
            // The echo's answer is sent after the exit, over the same connection: a DOWN, had
            // one been sent, would arrive first.
            while try await local.rpc(peer.name, "erlang", "is_process_alive", [.pid(exiter)]) == .atom(.true) {}
            try await mailbox.send(.tuple([.pid(mailbox.pid(for: peer.name)), "marker"]), to: "numbat_echo", on: peer.name)
            #expect(try await mailbox.receive(timeout: .seconds(5)).term == .tuple([.atom("echo"), "marker"]))
            #expect(mailbox.queuedCount == 0)
        }
    }

    @Test("an Erlang process monitoring a Swift mailbox gets DOWN with the close reason", arguments: OTPRelease.installed)
    func erlangMonitorsSwift(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_collector")
            let mailbox = try local.makeMailbox()
            _ = try await local.peerCall(peer, "watch", [.pid(mailbox.pid(for: peer.name))])
            // `watch` is a message to the collector; an rpc round trip later it has been handled.
            _ = try await local.peerCall(peer, "collected")
            mailbox.close(reason: .tuple([.atom("shutdown"), .atom("numbat")]))
            let down = try await local.peerCall(peer, "await_seen", [.atom("DOWN"), 5000])
            #expect(down[element: 3] == .pid(mailbox.pid(for: peer.name)))
            #expect(down[element: 4] == .tuple([.atom("shutdown"), .atom("numbat")]))
        }
    }

    @Test("links: an Erlang exit reaches Swift as EXIT, a Swift close reaches Erlang, unlink stops both", arguments: OTPRelease.installed)
    func links(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let mailbox = try local.makeMailbox()
            let exiter = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            try await mailbox.link(exiter)
            try await mailbox.send(.tuple([.atom("exit"), .atom("crashed")]), to: exiter)
            #expect(try await mailbox.receive(timeout: .seconds(5)) == .exit(from: exiter, reason: .atom("crashed")))

            // The collector traps exits: it sees the Swift mailbox's close as {'EXIT', Pid, Reason}.
            _ = try await local.peerCall(peer, "start_collector")
            let linked = try local.makeMailbox()
            #expect(try await local.peerCall(peer, "link_to", [.pid(linked.pid(for: peer.name))]) == .atom(.true))
            linked.close(reason: .atom("swift_gone"))
            let exit = try await local.peerCall(peer, "await_seen", [.atom("EXIT"), 5000])
            #expect(exit == .tuple([.atom("EXIT"), .pid(linked.pid(for: peer.name)), .atom("swift_gone")]))

            // Unlinked before the exit: nothing arrives (the echo's answer comes after).
            _ = try await local.peerCall(peer, "start_echo")
            let other = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            try await mailbox.link(other)
            try await mailbox.unlink(other)
            try await mailbox.send(.tuple([.atom("exit"), .atom("crashed")]), to: other)
            while try await local.rpc(peer.name, "erlang", "is_process_alive", [.pid(other)]) == .atom(.true) {}
            try await mailbox.send(.tuple([.pid(mailbox.pid(for: peer.name)), "marker"]), to: "numbat_echo", on: peer.name)
            #expect(try await mailbox.receive(timeout: .seconds(5)).term == .tuple([.atom("echo"), "marker"]))
        }
    }

    @Test("the Swift side disconnecting: Erlang sees nodedown and DOWN noconnection; Swift's monitor and link see noconnection",
          arguments: OTPRelease.installed)
    func disconnect(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_collector")
            let watched = try local.makeMailbox()
            _ = try await local.peerCall(peer, "watch", [.pid(watched.pid(for: peer.name))])
            _ = try await local.peerCall(peer, "collected")
            let watcher = try local.makeMailbox()
            let exiter = try #require(try await local.peerCall(peer, "spawn_exiter").pidValue)
            let ref = try await watcher.monitor(exiter)
            let linked = try local.makeMailbox()
            try await linked.link(exiter)
            let events = local.nodeEvents()

            await local.disconnect(peer.name)
            #expect(try await watcher.receive(timeout: .seconds(5)) == .down(ref: ref, process: .pid(exiter), reason: .atom("noconnection")))
            #expect(try await linked.receive(timeout: .seconds(5)) == .exit(from: exiter, reason: .atom("noconnection")))
            let down = await nextEvent(events, within: .seconds(5)) { if case .down = $0 { true } else { false } }
            #expect(down.map { if case .down(let node, _) = $0 { node == peer.name } else { false } } == true)

            // Reconnect (a new connection) and read what the Erlang side saw.
            let nodedown = try await local.peerCall(peer, "await_seen", [.atom("nodedown"), 5000])
            #expect(nodedown[element: 1] == .atom(Atom(local.localName(for: peer.name).description)))
            let monitorDown = try await local.peerCall(peer, "await_seen", [.atom("DOWN"), 5000])
            #expect(monitorDown[element: 3] == .pid(watched.pid(for: peer.name)))
            #expect(monitorDown[element: 4] == .atom("noconnection"))
        }
    }
}
