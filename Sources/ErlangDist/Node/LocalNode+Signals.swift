import ErlangTerm

/// Sending messages and the link/monitor signals, on behalf of a mailbox.
extension LocalNode {
    func send(_ message: Term, to target: Pid, from mailbox: Mailbox) async throws(DistributionError) {
        if isLocal(target.node) {
            deliver(.message(message, from: mailbox.pid), to: target)
            return
        }
        let connection = try await connection(to: target.node)
        connection.send(.send(from: mailbox.pid(for: connection.peer), to: target, message: message))
    }

    func send(_ message: Term, toName name: Atom, on peer: NodeName, from mailbox: Mailbox) async throws(DistributionError) {
        if isLocal(peer.atom) {
            if let id = state.withLockedValue({ $0.registered[name] }) { deliver(.message(message, from: mailbox.pid), toID: id) }
            return
        }
        let connection = try await connection(to: peer.atom)
        connection.send(.regSend(from: mailbox.pid(for: peer), to: name, message: message))
    }

    func send(_ message: Term, toAlias alias: Reference, from mailbox: Mailbox) async throws(DistributionError) {
        let connection = try await connection(to: alias.node)
        connection.send(.aliasSend(from: mailbox.pid(for: connection.peer), alias: alias, message: message))
    }

    func monitor(_ target: Term, on node: Atom, from mailbox: Mailbox) async throws(DistributionError) -> Reference {
        let peer = try NodeName(node.name)
        let ref = makeReference(for: peer)
        // Erlang reports a monitored name as {Name, Node} in 'DOWN'.
        let reported: Term = if case .atom = target { .tuple([target, .atom(node)]) } else { target }
        mailbox.state.withLockedValue { $0.monitors[ref] = (node, reported) }
        bond(mailbox, with: node)
        do {
            let connection = try await connection(to: node)
            connection.send(.monitor(from: mailbox.pid(for: peer), to: target, ref: ref))
        } catch {
            // As in Erlang: monitoring a process on an unreachable node gives DOWN noconnection.
            if mailbox.state.withLockedValue({ $0.monitors.removeValue(forKey: ref) }) != nil {
                mailbox.deliver(.down(ref: ref, process: reported, reason: .atom("noconnection")))
            }
        }
        return ref
    }

    func demonitor(_ ref: Reference, from mailbox: Mailbox) {
        guard let monitor = mailbox.state.withLockedValue({ $0.monitors.removeValue(forKey: ref) }),
            let connection = existingConnection(monitor.node)
        else { return }
        let target: Term = if case .tuple(let pair) = monitor.target, pair.count == 2 { pair[0] } else { monitor.target }
        connection.send(.demonitor(from: mailbox.pid(for: connection.peer), to: target, ref: ref))
    }

    func link(_ target: Pid, from mailbox: Mailbox) async throws(DistributionError) {
        let connection = try await connection(to: target.node)
        mailbox.state.withLockedValue { _ = $0.links.insert(target) }
        bond(mailbox, with: target.node)
        connection.send(.link(from: mailbox.pid(for: connection.peer), to: target))
    }

    func unlink(_ target: Pid, from mailbox: Mailbox) async throws(DistributionError) {
        let id = UInt64(allocateUnlinkID())
        let wasLinked = mailbox.state.withLockedValue { state -> Bool in
            guard state.links.remove(target) != nil else { return false }
            state.unlinking[id] = target
            return true
        }
        guard wasLinked, let connection = existingConnection(target.node) else { return }
        connection.send(.unlinkID(id: id, from: mailbox.pid(for: connection.peer), to: target))
    }

    private func allocateUnlinkID() -> UInt64 {
        state.withLockedValue { state in
            state.nextReference += 1
            return state.nextReference
        }
    }

    /// Exits `mailbox`: exit signals to links, `DOWN` to watchers, name and pid freed.
    func close(_ mailbox: Mailbox, reason: Term) {
        let (links, watchers, waiters, bonded) = mailbox.state.withLockedValue { state in
            guard !state.closed else { return ([Pid](), [Reference: Pid](), [CheckedContinuation<MailboxMessage?, Never>](), Set<Atom>()) }
            state.closed = true
            if let handler = state.handler {
                state.handler = nil
                handler(nil)
            }
            let bonded = Set(state.links.map(\.node)).union(state.unlinking.values.map(\.node))
                .union(state.monitors.values.map(\.node)).union(state.watchers.values.map(\.node))
            defer {
                state.links = []
                state.watchers = [:]
                state.monitors = [:]
                state.waiters = []
            }
            return (Array(state.links), state.watchers, state.waiters.map(\.continuation), bonded)
        }
        unbond(mailbox, from: bonded)
        state.withLockedValue { state in
            state.receivers[mailbox.id] = nil
            if let name = mailbox.registeredName, state.registered[name] == mailbox.id { state.registered[name] = nil }
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for pid in links {
            guard let connection = existingConnection(pid.node) else { continue }
            connection.send(.exit(from: mailbox.pid(for: connection.peer), to: pid, reason: reason))
        }
        for (ref, watcher) in watchers {
            guard let connection = existingConnection(watcher.node) else { continue }
            connection.send(.monitorExit(from: .pid(mailbox.pid(for: connection.peer)), to: watcher, ref: ref, reason: reason))
        }
    }
}
