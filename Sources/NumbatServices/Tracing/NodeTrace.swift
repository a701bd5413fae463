import ErlangDist
import ErlangTerm
import Foundation
import NIOConcurrencyHelpers
import NumbatCore

/// One node's part of a trace session, the I/O shell: injects `numbat_trace_agent`, starts it
/// owned by a mailbox of this part's own (the tracer monitors it: when this server or the
/// connection goes, the node clears the trace itself), then reads the batches and the end the
/// tracer sends and hands them to the service, on the node's event loop.
final class NodeTrace: Sendable {
    static let agentName = "numbat_trace_agent"
    let node: ManagedNode
    let session: UUID
    private let service: TracingService
    private let mailbox = NIOLockedValueBox<Mailbox?>(nil)
    private let reader = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(node: ManagedNode, session: UUID, service: TracingService) {
        self.node = node
        self.session = session
        self.service = service
    }

    /// Starts the tracer with `options`; answers how many functions the pattern matched. The
    /// node's refusals are typed: a session already running (409), a bad module, function or
    /// match spec (400), no such process (404).
    func start(options: Term) async throws -> Int {
        let nodes = service.nodes
        let owner = try nodes.local.makeMailbox()
        mailbox.withLockedValue { $0 = owner }
        do {
            _ = try await nodes.inject(try Agent.named(Self.agentName), into: node)
            let reply = try await nodes.rpc(node, Atom(Self.agentName), "start", [.pid(owner.pid(for: try NodeName(node.name))), options],
                                            timeout: .seconds(15))
            guard reply[element: 0] == .atom("ok"), let agent = reply[element: 1], case .pid(let pid) = agent else {
                throw refusal(reply[element: 1] ?? reply)
            }
            // The tracer's end comes as a message; its DOWN covers a node that went first.
            _ = try? await owner.monitor(pid)
            return reply[element: 2]?.intValue ?? 0
        } catch {
            owner.close()
            throw error
        }
    }

    /// Reads the tracer's messages until its end, on the node's event loop. A tracer that has
    /// said nothing of its end by `deadline` (its session's duration and a grace: it ends by
    /// itself at its duration) is taken as gone, so the session and the node are never left
    /// running here.
    func run(deadline: Duration) {
        guard let owner = mailbox.withLockedValue({ $0 }) else { return }
        let watchdog = Task { [node, session, service] in
            guard (try? await Task.sleep(for: deadline)) != nil else { return }
            await service.ended(session: session, node: node.id, reason: .failed, dropped: 0,
                                error: "no end came from the tracer on \(node.name) within \(deadline)")
            owner.close()
        }
        let executor = service.nodes.taskExecutor(for: node.name)
        let task = Task(executorPreference: executor) { [node, session, service] in
            for await message in owner {
                switch message {
                case .message(let term, _):
                    guard let parts = term.tupleElements, parts.count == 3, parts[0] == .atom("numbat_trace"), let body = parts[2].tupleElements else { continue }
                    if body.count == 2, body[0] == .atom("events") {
                        await service.received(Self.events(body[1], session: session, node: node.id), session: session, node: node.id)
                    } else if body.count == 4, body[0] == .atom("ended") {
                        let reason = body[1].atomValue.flatMap { TraceSession.EndReason(rawValue: $0.name) } ?? .failed
                        await service.ended(session: session, node: node.id, reason: reason, dropped: body[3].intValue ?? 0, error: nil)
                        owner.close()
                    }
                case .down(_, _, let reason):
                    // Gone without a word: the node or its connection went (the node, if it
                    // lives, cleared the trace when it lost this server).
                    await service.ended(session: session, node: node.id, reason: .failed, dropped: 0,
                                        error: "the tracer on \(node.name) went: \(reason.erlangDescription)")
                    owner.close()
                case .exit, .flatMessage:
                    continue
                }
            }
            watchdog.cancel()
        }
        reader.withLockedValue { $0 = task }
    }

    /// Asks the tracer to stop this session: it clears the trace and sends its end (which the
    /// reader hands over). A node that cannot be asked has its mailbox closed: the tracer sees
    /// its owner go and clears the trace itself.
    func stop() async {
        let asked = try? await service.nodes.rpc(node, Atom(Self.agentName), "stop", [.binary(Array(session.uuidString.lowercased().utf8))],
                                                 timeout: .seconds(10))
        if asked == nil {
            await service.ended(session: session, node: node.id, reason: .stopped, dropped: 0, error: "the node could not be asked to stop")
            close()
        }
    }

    /// Closes the mailbox (the tracer, if it still runs, clears the trace and leaves) and waits
    /// for the reader.
    func close() {
        mailbox.withLockedValue { $0 }?.close(reason: .atom("shutdown"))
    }

    func finished() async {
        await reader.withLockedValue { $0 }?.value
    }

    /// The tracer's `[{Micros, Kind, PidText, Text}]`.
    static func events(_ term: Term, session: UUID, node: UUID) -> [TraceEvent] {
        (term.listElements ?? []).compactMap { entry in
            guard let fields = entry.tupleElements, fields.count == 4, let micros = fields[0].intValue, let kind = fields[1].atomValue else { return nil }
            return TraceEvent(sessionID: session, nodeID: node, time: Date(timeIntervalSince1970: Double(micros) / 1e6), kind: kind.name,
                              pid: text(fields[2]), text: text(fields[3]))
        }
    }

    static func text(_ term: Term) -> String {
        term.binaryValue.map { String(decoding: $0, as: UTF8.self) } ?? term.erlangDescription
    }

    /// The node's reason for not starting, as the error the API answers.
    func refusal(_ reason: Term) -> NumbatError {
        switch reason {
        case .atom("busy"):
            return .conflict("trace_busy", "a trace session already runs on \(node.name); stop it first (one session per node)")
        case .atom("no_such_module"):
            return .badRequest("invalid_mfa", "\(node.name) has no such module")
        case .atom("no_matching_function"):
            return .badRequest("invalid_mfa", "no function on \(node.name) matches the mfa")
        case .atom("no_such_process"):
            return .notFound("process_not_found", "no such process on \(node.name)")
        default:
            if let parts = reason.tupleElements, parts.count == 2, parts[0] == .atom("bad_match_spec") {
                let errors = (parts[1].listElements ?? []).map { Self.text($0) }.joined(separator: "; ")
                return .badRequest("invalid_match_spec", "\(node.name) refused the match spec: \(errors)")
            }
            return NumbatError(.unavailable, "trace_start_failed", "the tracer did not start on \(node.name): \(reason.erlangDescription)")
        }
    }
}
