import ErlangTerm

/// A distribution control message with its payload (`DOP_*` in OTP's dist.h), decoded from and
/// encoded to the `(control tuple, payload)` pair on the wire. Trace-token (`*_TT`) variants
/// decode to their plain forms: Numbat does not take part in sequential tracing.
public enum ControlMessage: Sendable, Equatable {
    case link(from: Pid, to: Pid)
    case send(from: Pid?, to: Pid, message: Term)
    case regSend(from: Pid, to: Atom, message: Term)
    case aliasSend(from: Pid, alias: Reference, message: Term)
    /// A link broke: `from` exited with `reason`.
    case exit(from: Pid, to: Pid, reason: Term)
    /// `exit(To, Reason)` sent without a link.
    case exit2(from: Pid, to: Pid, reason: Term)
    case unlink(from: Pid, to: Pid)
    case unlinkID(id: UInt64, from: Pid, to: Pid)
    case unlinkIDAck(id: UInt64, from: Pid, to: Pid)
    /// `to` is a pid or a registered name (atom).
    case monitor(from: Pid, to: Term, ref: Reference)
    case demonitor(from: Pid, to: Term, ref: Reference)
    /// A monitored process (`from`: pid or name) is gone.
    case monitorExit(from: Term, to: Pid, ref: Reference, reason: Term)
    case spawnRequest(id: Reference, from: Pid, groupLeader: Pid, module: Atom, function: Atom, arity: Int, options: Term, arguments: Term)
    case spawnReply(id: Reference, to: Pid, flags: Int, result: Term)
    /// OTP 28's `ALTACT_SIG_SEND`; only sent to peers that offer `ALTACT_SIG`, decoded for completeness.
    case altactSend(flags: Int, from: Pid, to: Term, message: Term)

    enum Operation {
        static let link = 1, send = 2, exit = 3, unlink = 4, regSend = 6, groupLeader = 7, exit2 = 8
        static let sendTT = 12, exitTT = 13, regSendTT = 16, exit2TT = 18
        static let monitor = 19, demonitor = 20, monitorExit = 21, sendSender = 22, sendSenderTT = 23
        static let payloadExit = 24, payloadExitTT = 25, payloadExit2 = 26, payloadExit2TT = 27
        static let payloadMonitorExit = 28, spawnRequest = 29, spawnRequestTT = 30
        static let spawnReply = 31, spawnReplyTT = 32, aliasSend = 33, aliasSendTT = 34
        static let unlinkID = 35, unlinkIDAck = 36, altactSend = 37
    }

    /// Whether `control` sends a message to a pid whose serial is `serial` (`SEND`,
    /// `SEND_SENDER` and their trace-token forms), and which pid: the test for replies wanted
    /// flat (`LocalNode.flatReplySerial`), made on the control tuple before the payload is decoded.
    static func sendTarget(_ control: Term, serial: UInt32) -> Pid? {
        guard case .tuple(let e) = control, e.count >= 3, case .integer(let op) = e[0],
            op == Operation.send || op == Operation.sendTT || op == Operation.sendSender || op == Operation.sendSenderTT,
            case .pid(let to) = e[2], to.serial == serial
        else { return nil }
        return to
    }

    /// The sender a `SEND_SENDER` or `SEND_SENDER_TT` control tuple names (`SEND`'s second
    /// element is an unused cookie).
    static func sender(_ control: Term) -> Pid? {
        guard case .tuple(let e) = control, e.count >= 3, case .integer(let op) = e[0],
              op == Operation.sendSender || op == Operation.sendSenderTT, case .pid(let from) = e[1]
        else { return nil }
        return from
    }

    /// Decodes a control tuple and its payload; nil for operations Numbat deliberately ignores
    /// (group leader changes). Throws on a malformed message.
    public init?(control: Term, payload: Term?) throws(DistributionError) {
        guard case .tuple(let e) = control, let op = e.first?.intValue else {
            throw .malformedFrame("control message is not a tuple with an operation: \(control)")
        }
        func pid(_ index: Int) throws(DistributionError) -> Pid {
            guard index < e.count, case .pid(let value) = e[index] else { throw Self.bad(op, control) }
            return value
        }
        func ref(_ index: Int) throws(DistributionError) -> Reference {
            guard index < e.count, case .reference(let value) = e[index] else { throw Self.bad(op, control) }
            return value
        }
        func term(_ index: Int) throws(DistributionError) -> Term {
            guard index < e.count else { throw Self.bad(op, control) }
            return e[index]
        }
        func body() throws(DistributionError) -> Term {
            guard let payload else { throw .malformedFrame("operation \(op) arrived without its payload") }
            return payload
        }
        func id(_ index: Int) throws(DistributionError) -> UInt64 {
            guard let value = try term(index).uint64Value else { throw Self.bad(op, control) }
            return value
        }
        switch op {
        case Operation.link: self = .link(from: try pid(1), to: try pid(2))
        case Operation.send, Operation.sendTT: self = .send(from: nil, to: try pid(2), message: try body())
        case Operation.sendSender, Operation.sendSenderTT: self = .send(from: try pid(1), to: try pid(2), message: try body())
        case Operation.regSend, Operation.regSendTT:
            guard case .atom(let name) = try term(3) else { throw Self.bad(op, control) }
            self = .regSend(from: try pid(1), to: name, message: try body())
        case Operation.aliasSend, Operation.aliasSendTT: self = .aliasSend(from: try pid(1), alias: try ref(2), message: try body())
        case Operation.exit, Operation.exitTT: self = .exit(from: try pid(1), to: try pid(2), reason: try term(3))
        case Operation.payloadExit, Operation.payloadExitTT: self = .exit(from: try pid(1), to: try pid(2), reason: try body())
        case Operation.exit2, Operation.exit2TT: self = .exit2(from: try pid(1), to: try pid(2), reason: try term(3))
        case Operation.payloadExit2, Operation.payloadExit2TT: self = .exit2(from: try pid(1), to: try pid(2), reason: try body())
        case Operation.unlink: self = .unlink(from: try pid(1), to: try pid(2))
        case Operation.unlinkID: self = .unlinkID(id: try id(1), from: try pid(2), to: try pid(3))
        case Operation.unlinkIDAck: self = .unlinkIDAck(id: try id(1), from: try pid(2), to: try pid(3))
        case Operation.monitor: self = .monitor(from: try pid(1), to: try term(2), ref: try ref(3))
        case Operation.demonitor: self = .demonitor(from: try pid(1), to: try term(2), ref: try ref(3))
        case Operation.monitorExit: self = .monitorExit(from: try term(1), to: try pid(2), ref: try ref(3), reason: try term(4))
        case Operation.payloadMonitorExit: self = .monitorExit(from: try term(1), to: try pid(2), ref: try ref(3), reason: try body())
        case Operation.spawnRequest, Operation.spawnRequestTT:
            guard case .tuple(let mfa) = try term(4), mfa.count == 3, case .atom(let m) = mfa[0], case .atom(let f) = mfa[1],
                case .integer(let arity) = mfa[2]
            else { throw Self.bad(op, control) }
            self = .spawnRequest(id: try ref(1), from: try pid(2), groupLeader: try pid(3), module: m, function: f, arity: arity,
                                 options: try term(5), arguments: try body())
        case Operation.spawnReply, Operation.spawnReplyTT:
            guard case .integer(let flags) = try term(3) else { throw Self.bad(op, control) }
            self = .spawnReply(id: try ref(1), to: try pid(2), flags: flags, result: try term(4))
        case Operation.altactSend:
            self = .altactSend(flags: try term(1).intValue ?? 0, from: try pid(2), to: try term(3), message: try body())
        case Operation.groupLeader:
            return nil
        default:
            throw .malformedFrame("unknown distribution operation \(op)")
        }
    }

    private static func bad(_ op: Int, _ control: Term) -> DistributionError {
        .malformedFrame("operation \(op) has an unexpected shape: \(control)")
    }

    /// The control tuple and payload to put on the wire to a peer with `flags`.
    public func encoded(flags: DistributionFlags) -> (control: Term, payload: Term?) {
        let payloadExits = flags.contains(.exitPayload)
        switch self {
        case .link(let from, let to):
            return (.tuple([.integer(Operation.link), .pid(from), .pid(to)]), nil)
        case .send(let from, let to, let message):
            if let from, flags.contains(.sendSender) {
                return (.tuple([.integer(Operation.sendSender), .pid(from), .pid(to)]), message)
            }
            return (.tuple([.integer(Operation.send), .atom(""), .pid(to)]), message)
        case .regSend(let from, let to, let message):
            return (.tuple([.integer(Operation.regSend), .pid(from), .atom(""), .atom(to)]), message)
        case .aliasSend(let from, let alias, let message):
            return (.tuple([.integer(Operation.aliasSend), .pid(from), .reference(alias)]), message)
        case .exit(let from, let to, let reason):
            return payloadExits
                ? (.tuple([.integer(Operation.payloadExit), .pid(from), .pid(to)]), reason)
                : (.tuple([.integer(Operation.exit), .pid(from), .pid(to), reason]), nil)
        case .exit2(let from, let to, let reason):
            return payloadExits
                ? (.tuple([.integer(Operation.payloadExit2), .pid(from), .pid(to)]), reason)
                : (.tuple([.integer(Operation.exit2), .pid(from), .pid(to), reason]), nil)
        case .unlink(let from, let to):
            return (.tuple([.integer(Operation.unlink), .pid(from), .pid(to)]), nil)
        case .unlinkID(let id, let from, let to):
            return (.tuple([.integer(Operation.unlinkID), .unsigned(id), .pid(from), .pid(to)]), nil)
        case .unlinkIDAck(let id, let from, let to):
            return (.tuple([.integer(Operation.unlinkIDAck), .unsigned(id), .pid(from), .pid(to)]), nil)
        case .monitor(let from, let to, let ref):
            return (.tuple([.integer(Operation.monitor), .pid(from), to, .reference(ref)]), nil)
        case .demonitor(let from, let to, let ref):
            return (.tuple([.integer(Operation.demonitor), .pid(from), to, .reference(ref)]), nil)
        case .monitorExit(let from, let to, let ref, let reason):
            return payloadExits
                ? (.tuple([.integer(Operation.payloadMonitorExit), from, .pid(to), .reference(ref)]), reason)
                : (.tuple([.integer(Operation.monitorExit), from, .pid(to), .reference(ref), reason]), nil)
        case .spawnRequest(let id, let from, let groupLeader, let module, let function, let arity, let options, let arguments):
            let mfa = Term.tuple([.atom(module), .atom(function), .integer(arity)])
            return (.tuple([.integer(Operation.spawnRequest), .reference(id), .pid(from), .pid(groupLeader), mfa, options]), arguments)
        case .spawnReply(let id, let to, let flags, let result):
            return (.tuple([.integer(Operation.spawnReply), .reference(id), .pid(to), .integer(flags), result]), nil)
        case .altactSend(let flags, let from, let to, let message):
            return (.tuple([.integer(Operation.altactSend), .integer(flags), .pid(from), to]), message)
        }
    }
}
