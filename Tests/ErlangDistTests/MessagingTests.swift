import ErlangDist
import ErlangTerm
import NumbatTestSupport
import Testing

@Suite("messages between Swift mailboxes and Erlang processes")
struct MessagingTests {
    @Test("Swift sends to a registered Erlang process and gets the echo", arguments: OTPRelease.installed)
    func echo(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_echo")
            let mailbox = try local.makeMailbox()
            try await mailbox.send(.tuple([.pid(mailbox.pid(for: peer.name)), "hello"]), to: "numbat_echo", on: peer.name)
            let reply = try await mailbox.receive(timeout: .seconds(5))
            #expect(reply.term == .tuple([.atom("echo"), "hello"]))
            if case .message(_, let from) = reply { #expect(from?.node == Atom(peer.name.description)) }
        }
    }

    @Test("{Name, Node} ! Msg from Erlang reaches a registered Swift mailbox", arguments: OTPRelease.installed)
    func registered(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            let mailbox = try local.makeMailbox(name: "numbat_inbox")
            try await local.connect(to: peer.name)
            let me = local.localName(for: peer.name)
            _ = try await local.peerCall(peer, "send_after_connect", [.atom("numbat_inbox"), .atom(Atom(me.description)), .tuple([.atom("hi"), 42])])
            let message = try await mailbox.receive(timeout: .seconds(5))
            #expect(message.term == .tuple([.atom("hi"), 42]))
        }
    }

    /// A mailbox handing its messages to a handler (`deliverEach(to:)`), as the server's agent
    /// owners do: what was queued first, then each message in the order sent, then nil at close.
    @Test("a mailbox hands queued and arriving messages to its handler in order, and nil when it closes",
          .timeLimit(.minutes(1)), arguments: OTPRelease.installed)
    func handler(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_echo")
            let mailbox = try local.makeMailbox()
            let me = Term.pid(mailbox.pid(for: peer.name))
            try await mailbox.send(.tuple([me, .integer(0)]), to: "numbat_echo", on: peer.name)
            // Queued before the handler: received here, then handed to the handler first.
            while mailbox.queuedCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let (seen, sink) = AsyncStream<MailboxMessage?>.makeStream()
            mailbox.deliverEach { sink.yield($0) }
            for index in 1...20 { try await mailbox.send(.tuple([me, .integer(index)]), to: "numbat_echo", on: peer.name) }
            var iterator = seen.makeAsyncIterator()
            for index in 0...20 {
                let message = await iterator.next()
                #expect(message??.term == .tuple([.atom("echo"), .integer(index)]))
            }
            mailbox.close()
            let last = await iterator.next()
            #expect(last == .some(nil), "nil once the mailbox closes")
        }
    }

    /// A mailbox made `flat` gets what an Erlang process sends to its pid decoded flat off the
    /// connection, with the sender (`SEND_SENDER`), whole or in fragments; what is sent to its
    /// registered name (`REG_SEND`, not addressed by pid) still arrives as a `Term`.
    @Test("a flat mailbox gets messages to its pid decoded flat, with their sender", arguments: OTPRelease.installed)
    func flatMailbox(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_echo")
            let mailbox = try local.makeMailbox(name: "numbat_flat_inbox", flat: true)
            #expect(mailbox.isFlat)
            let small = Term.tuple([.atom("log"), .binary(Array("disk full".utf8)), .list([.tuple([.string("line"), .integer(42)])])])
            // About 2 MiB: the echo comes back in fragments.
            let large = Term.list((0..<200_000).map { index in index % 2 == 0 ? .integer(index) : .atom("a\(index % 7)") })
            for payload in [small, large] {
                try await mailbox.send(.tuple([.pid(mailbox.pid(for: peer.name)), payload]), to: "numbat_echo", on: peer.name)
                let reply = try await mailbox.receive(timeout: .seconds(10))
                guard case .flatMessage(let flat, let from) = reply else {
                    Issue.record("not flat: \(reply.term.description.prefix(100))")
                    return
                }
                #expect(flat.term == .tuple([.atom("echo"), payload]))
                #expect(flat.root.element(0)?.isAtom("echo") == true)
                #expect(from?.node == Atom(peer.name.description), "the echo process is the sender")
            }
            let me = local.localName(for: peer.name)
            _ = try await local.peerCall(peer, "send_after_connect", [.atom("numbat_flat_inbox"), .atom(Atom(me.description)), .tuple([.atom("hi"), 42])])
            let byName = try await mailbox.receive(timeout: .seconds(5))
            guard case .message(let term, _) = byName else {
                Issue.record("a message sent by name arrived as \(byName)")
                return
            }
            #expect(term == .tuple([.atom("hi"), 42]))
        }
    }

    @Test("messages over 1 MiB travel both ways in fragments", arguments: OTPRelease.installed)
    func large(release: OTPRelease) async throws {
        try await withPeer(release) { local, peer in
            _ = try await local.peerCall(peer, "start_echo")
            let mailbox = try local.makeMailbox()
            let size = 3 << 20
            // Erlang -> Swift: 3 MiB binary, checked by MD5 computed on the Erlang side.
            let md5 = try await local.peerCall(peer, "big_binary", [.pid(mailbox.pid(for: peer.name)), .integer(size)])
            let received = try await mailbox.receive(timeout: .seconds(10))
            guard case .tuple(let parts) = received.term, parts.count == 2, case .binary(let bytes) = parts[1] else {
                Issue.record("unexpected \(received.term.description.prefix(100))")
                return
            }
            #expect(bytes.count == size)
            let digest = try await local.rpc(peer.name, "erlang", "md5", [.binary(bytes)])
            #expect(digest == md5)
            // Swift -> Erlang -> Swift: a 2 MiB list of mixed terms through the echo process.
            let payload = Term.list((0..<200_000).map { index in index % 2 == 0 ? .integer(index) : .atom("a\(index % 7)") })
            try await mailbox.send(.tuple([.pid(mailbox.pid(for: peer.name)), payload]), to: "numbat_echo", on: peer.name)
            let echoed = try await mailbox.receive(timeout: .seconds(10))
            #expect(echoed.term == .tuple([.atom("echo"), payload]))
        }
    }

    @Test("an Erlang node connects to a listening Swift node through EPMD and gen_server:calls it", arguments: OTPRelease.installed)
    func incomingGenServerCall(release: OTPRelease) async throws {
        let local = try makeLocalNode()
        let port = try await local.listen()
        #expect(port > 0)
        let mailbox = try local.makeMailbox(name: "swift_server")
        let server = Task {
            while let message = await mailbox.receive() {
                guard case .tuple(let call) = message.term, call.count == 3, call[0] == .atom("$gen_call") else { continue }
                try await mailbox.reply(to: call[1], with: .tuple([.atom("pong"), call[2]]))
            }
        }
        // A fresh Erlang node that has never seen us: it must find us through EPMD and dial in.
        let me = local.localName(for: NodeName(alive: "x", host: "127.0.0.1"))
        let script = """
            pong = net_adm:ping('\(me)'),
            R = gen_server:call({swift_server, '\(me)'}, ping, 20000),
            io:format("~p~n", [R]), halt().
            """
        let output = try await ErlangScript.run(release, script, extraArgs: ["-name", "caller\(UInt32.random(in: 0...UInt32.max))@127.0.0.1", "-setcookie", "numbat-test-cookie"])
        #expect(output.contains("{pong,ping}"))
        mailbox.close()
        _ = await server.result
        await local.shutdown()
    }
}
