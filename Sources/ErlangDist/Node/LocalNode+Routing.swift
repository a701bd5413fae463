import ErlangTerm

extension LocalNode {
    /// Acts on a control message from `connection`; runs on the connection's event loop.
    func route(_ message: ControlMessage, from connection: NodeConnection) {
        switch message {
        case .send(let from, let to, let payload):
            deliver(.message(payload, from: from), to: to)
        case .regSend(let from, let name, let payload):
            if let id = state.withLockedValue({ $0.registered[name] }) {
                deliver(.message(payload, from: from), toID: id)
            } else if name == "net_kernel" {
                answerNetKernel(payload, from: from, connection: connection)
            }
            // Like the BEAM, a message to an unregistered name is dropped.
        case .aliasSend, .altactSend:
            // Numbat's mailboxes have no aliases; the BEAM drops such messages too.
            break
        case .link(let from, let to):
            guard let mailbox = mailbox(for: to) else {
                connection.send(.exit(from: to, to: from, reason: .atom("noproc")))
                return
            }
            mailbox.state.withLockedValue { _ = $0.links.insert(from) }
            bond(mailbox, with: from.node)
        case .exit(let from, let to, let reason):
            guard let mailbox = mailbox(for: to) else { return }
            let linked = mailbox.state.withLockedValue { state -> Bool in
                // An exit over a link we are unlinking is ignored (link protocol, OTP 23+).
                if state.unlinking.values.contains(from) { return false }
                return state.links.remove(from) != nil
            }
            if linked { mailbox.deliver(.exit(from: from, reason: reason)) }
        case .exit2(let from, let to, let reason):
            mailbox(for: to)?.deliver(.exit(from: from, reason: reason))
        case .unlink(let from, let to):
            _ = mailbox(for: to)?.state.withLockedValue { $0.links.remove(from) }
        case .unlinkID(let id, let from, let to):
            _ = mailbox(for: to)?.state.withLockedValue { $0.links.remove(from) }
            connection.send(.unlinkIDAck(id: id, from: to, to: from))
        case .unlinkIDAck(let id, _, let to):
            _ = mailbox(for: to)?.state.withLockedValue { $0.unlinking.removeValue(forKey: id) }
        case .monitor(_, .atom(let name), _) where Self.builtinNames.contains(name) && whereis(name.name) == nil:
            // Monitoring our built-in net_kernel (gen_server:call does) succeeds; it never exits.
            break
        case .monitor(let from, let target, let ref):
            let mailbox: Mailbox? = switch target {
            case .pid(let pid): self.mailbox(for: pid)
            case .atom(let name): whereis(name.name)
            default: nil
            }
            if let mailbox, mailbox.state.withLockedValue({ state -> Bool in
                guard !state.closed else { return false }
                state.watchers[ref] = from
                return true
            }) {
                bond(mailbox, with: from.node)
                return
            }
            connection.send(.monitorExit(from: target, to: from, ref: ref, reason: .atom("noproc")))
        case .demonitor(_, let target, let ref):
            let mailbox: Mailbox? = switch target {
            case .pid(let pid): self.mailbox(for: pid)
            case .atom(let name): whereis(name.name)
            default: nil
            }
            _ = mailbox?.state.withLockedValue { $0.watchers.removeValue(forKey: ref) }
        case .monitorExit(_, let to, let ref, let reason):
            guard let mailbox = mailbox(for: to),
                let monitor = mailbox.state.withLockedValue({ $0.monitors.removeValue(forKey: ref) })
            else { return }
            mailbox.deliver(.down(ref: ref, process: monitor.target, reason: reason))
        case .spawnRequest(let id, let from, _, _, _, _, _, _):
            // Swift nodes cannot run Erlang code: refuse as a node lacking the module would.
            connection.send(.spawnReply(id: id, to: from, flags: 0, result: .atom("notsup")))
        case .spawnReply:
            break
        }
    }

    /// Names the node answers for itself when no mailbox has taken them.
    static let builtinNames: Set<Atom> = ["net_kernel"]

    /// The mailbox a local pid names, if it is ours and open.
    func mailbox(for pid: Pid) -> Mailbox? {
        guard isLocal(pid.node), pid.creation == creation else { return nil }
        return state.withLockedValue { state in
            if case .mailbox(let mailbox) = state.receivers[pid.id] { return mailbox }
            return nil
        }
    }

    func deliver(_ message: MailboxMessage, to pid: Pid) {
        guard isLocal(pid.node), pid.creation == creation else { return }
        deliver(message, toID: pid.id)
    }

    func deliver(_ message: MailboxMessage, toID id: UInt32) {
        switch receiver(forMessageTo: id) {
        case .mailbox(let mailbox): mailbox.deliver(message)
        case .reply(_, _, let resume): resume(.reply(message.term))
        case nil: break
        }
    }

    /// A message the connection decoded flat, for a pid of `flatReplySerial`: a mailbox made
    /// `flat` gets it as it is, any other (a pid forged with that serial) as a `Term`.
    func deliver(flat message: FlatTerm, to pid: Pid, from sender: Pid? = nil) {
        guard isLocal(pid.node), pid.creation == creation else { return }
        switch receiver(forMessageTo: pid.id, flat: true) {
        case .reply(_, _, let resume): resume(.flatReply(message))
        case .mailbox(let mailbox):
            mailbox.deliver(mailbox.isFlat ? .flatMessage(message, from: sender) : .message(message.term, from: sender))
        case nil: break
        }
    }

    /// Who gets a message to local pid `id`; a one-shot reply receiver is removed (it gets one),
    /// and counted in `flatReplies` when the message came `flat`.
    private func receiver(forMessageTo id: UInt32, flat: Bool = false) -> Receiver? {
        state.withLockedValue { state in
            // Found once, by index, and removed through it.
            guard let index = state.receivers.index(forKey: id) else { return nil }
            let receiver = state.receivers.values[index]
            if case .reply(let node, let ticket, _) = receiver {
                state.receivers.remove(at: index)
                state.forgetReply(id, on: node)
                state.busyWait.replied(ticket, at: ReplySpinner.now())
                if flat { state.flatReplies += 1 }
            }
            return receiver
        }
    }

    /// `net_adm:ping/1` asks the target's net_kernel `{is_auth, Node}`; answer `yes` like a
    /// BEAM would, so Erlang tools see a Numbat node as alive.
    private func answerNetKernel(_ message: Term, from: Pid, connection: NodeConnection) {
        guard case .tuple(let parts) = message, parts.count == 3, parts[0] == .atom("$gen_call"),
            case .tuple(let request) = parts[2], request.first == .atom("is_auth"),
            case .tuple(let caller) = parts[1], caller.count == 2
        else { return }
        let tag = caller[1]
        let reply = Term.tuple([tag, .atom("yes")])
        let me = pid(id: 1, as: connection.localName)
        if case .improperList(let head, .reference(let alias)) = tag, head == [.atom("alias")] {
            connection.send(.aliasSend(from: me, alias: alias, message: reply))
        } else {
            connection.send(.send(from: me, to: from, message: reply))
        }
    }
}
