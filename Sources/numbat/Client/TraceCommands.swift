import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NumbatAPI
import NumbatCore

/// `numbat trace`: bounded trace sessions (docs/tracing.md). `call`, `messages` and `gc` start
/// one and print its events as they stream in, until the session ends (Ctrl-C leaves it to its
/// limits; `numbat trace stop` ends it); `list`, `show` and `stop` read and end sessions.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace calls, messages or garbage collections on a node or a family, bounded on the node.",
        discussion: """
            numbat trace call lists:seq/2 --node app@host --max 50 --rate 200 --duration 30
            numbat trace call 'my_mod:handle/_' --family 1f0c... --match-spec return_trace
            numbat trace messages my_server --node app@host
            numbat trace gc --node app@host --max 20
            numbat trace list | numbat trace show ID | numbat trace stop ID
            """,
        subcommands: [TraceCallCommand.self, TraceMessagesCommand.self, TraceGCCommand.self, TraceListCommand.self, TraceShowCommand.self,
                      TraceStopCommand.self])
}

/// The target and limits every starting subcommand takes.
struct TraceLimitOptions: ParsableArguments {
    @Option(help: "The node (id or name).") var node: String?
    @Option(help: "The family (id or name): every UP member, each with these limits.") var family: String?
    @Option(help: "Events kept per node at most (default 100).") var max: Int?
    @Option(help: "Events per rate window at most, per node (default 1000); more ends the trace.") var rate: Int?
    @Option(help: "The rate window in milliseconds (default 1000).") var rateWindowMs: Int?
    @Option(help: "Seconds before the trace ends by itself (default 60).") var duration: Int?
    @Flag(help: "Start the session and print it, without following its events.") var detach = false
}

struct TraceCallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "call", abstract: "Trace calls to module:function/arity.")
    @Argument(help: "module:function/arity (function and arity may be _).") var mfa: String
    @Option(help: "A match spec in Erlang syntax, or return_trace, exception_trace, caller.") var matchSpec: String?
    @OptionGroup var limits: TraceLimitOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await TraceRunner.run(StartTraceRequest(kind: "call", mfa: mfa, matchSpec: matchSpec), limits, client)
        }
    }
}

struct TraceMessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "messages", abstract: "Trace the messages one process sends and receives.")
    @Argument(help: "A pid (<0.80.0>) or a registered name.") var process: String
    @OptionGroup var limits: TraceLimitOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await TraceRunner.run(StartTraceRequest(kind: "messages", process: process), limits, client)
        }
    }
}

struct TraceGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Trace garbage collections of one process, or of every process.")
    @Argument(help: "A pid (<0.80.0>) or a registered name; every process without it.") var process: String?
    @OptionGroup var limits: TraceLimitOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await TraceRunner.run(StartTraceRequest(kind: "gc", process: process), limits, client)
        }
    }
}

struct TraceListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Trace sessions, newest first.")
    @Option(help: "How many (1-1000).") var limit = 50
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let reply = try await client.client().call("GET", "/api/trace/sessions?limit=\(limit)", as: TraceSessionListResponse.self)
            if client.json { return try printJSON(reply.data) }
            printTable(["ID", "KIND", "TARGET", "STATE", "STARTED", "NODES", "KEPT"], reply.value.sessions.map { session in
                [session.id.uuidString.lowercased(), session.kind.rawValue, session.target, session.state.rawValue,
                 session.startedAt.formatted(.iso8601), session.nodes.map(\.nodeName).joined(separator: ","), "\(session.kept)"]
            })
        }
    }
}

struct TraceShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One trace session and the events it kept.")
    @Argument(help: "The session's id.") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = client.client()
            let reply = try await api.call("GET", "/api/trace/sessions/\(id)", as: TraceSession.self)
            let events = try await TraceRunner.events(of: reply.value.id, after: nil, with: api)
            if client.json { return try printJSON(encoding: TraceEventPageResponse(events: events, next: nil)) }
            print(TraceRunner.describe(reply.value))
            let names = Dictionary(reply.value.nodes.map { ($0.nodeID, $0.nodeName) }, uniquingKeysWith: { a, _ in a })
            for event in events { print(TraceRunner.line(event, nodes: names)) }
        }
    }
}

struct TraceStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a trace session on every node.")
    @Argument(help: "The session's id.") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let reply = try await client.client().call("DELETE", "/api/trace/sessions/\(id)", as: TraceSession.self)
            if client.json { return try printJSON(reply.data) }
            print(TraceRunner.describe(reply.value))
        }
    }
}

/// Starting a session and following it.
enum TraceRunner {
    /// Subscribes to the `trace` topic first (no event is missed), starts the session, prints its
    /// events as they come and, once it ended, any the stream did not bring (read from the store).
    static func run(_ base: StartTraceRequest, _ limits: TraceLimitOptions, _ client: ClientOptions) async throws {
        let api = client.client()
        var request = base
        switch (limits.node, limits.family) {
        case (let node?, nil): request.node = try await resolveNode(node, with: api)
        case (nil, let family?): request.family = try await resolveFamily(family, with: api)
        default: throw ValidationError("give --node or --family")
        }
        request.maxCount = limits.max
        request.maxRate = limits.rate
        request.rateWindowMs = limits.rateWindowMs
        request.durationS = limits.duration
        if limits.detach {
            let reply = try await api.call("POST", "/api/trace/sessions", body: request, as: TraceSession.self)
            if client.json { return try printJSON(reply.data) }
            return print(describe(reply.value))
        }
        let start = request
        let subscription = String(decoding: try APICoding.encoder().encode(SubscribeRequest(topics: ["trace"])), as: UTF8.self)
        let json = client.json
        let printed = NIOLockedValueBox(Set<Int64>())
        let final = NIOLockedValueBox<TraceSession?>(nil)
        try await WebSocketClient.connect(url: api.webSocketURL("/api/ws"), logger: Logger(label: "numbat-cli")) { inbound, outbound, _ in
            try await outbound.write(.text(subscription))
            var session: TraceSession?
            var names: [UUID: String] = [:]
            for try await message in inbound.messages(maxSize: 16 << 20) {
                guard case .text(let text) = message, let event = try? APICoding.decoder().decode(EventMessageBody.self, from: Data(text.utf8)) else { continue }
                if event.type == "subscribed", session == nil {
                    let started = try await api.call("POST", "/api/trace/sessions", body: start, as: TraceSession.self).value
                    session = started
                    names = Dictionary(started.nodes.map { ($0.nodeID, $0.nodeName) }, uniquingKeysWith: { a, _ in a })
                    if !json { print("tracing \(started.kind.rawValue) \(started.target) on \(started.nodes.map(\.nodeName).joined(separator: ", ")) (session \(started.id.uuidString.lowercased()))") }
                    fflush(nil)
                    continue
                }
                guard let current = session else { continue }
                if event.type == "trace_events", let events = event.events {
                    for traced in events where traced.sessionID == current.id && printed.withLockedValue({ $0.insert(traced.id).inserted }) {
                        print(line(traced, nodes: names, json: json))
                    }
                    fflush(nil)
                } else if event.type == "trace_session", let changed = event.session, changed.id == current.id, changed.state == .ended {
                    final.withLockedValue { $0 = changed }
                    break
                }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        guard let ended = final.withLockedValue({ $0 }) else { throw APIClient.Failure(description: "the event stream ended before the trace") }
        let names = Dictionary(ended.nodes.map { ($0.nodeID, $0.nodeName) }, uniquingKeysWith: { a, _ in a })
        for event in try await events(of: ended.id, after: nil, with: api) where printed.withLockedValue({ $0.insert(event.id).inserted }) {
            print(line(event, nodes: names, json: json))
        }
        if !json { print(describe(ended)) }
    }

    /// Every event the session kept, page by page.
    static func events(of session: UUID, after: Int64?, with api: APIClient) async throws -> [TraceEvent] {
        var all: [TraceEvent] = []
        var cursor = after
        while true {
            let page = try await api.call("GET", "/api/trace/sessions/\(session.uuidString.lowercased())/events?limit=1000" + (cursor.map { "&after=\($0)" } ?? ""),
                                          as: TraceEventPageResponse.self).value
            all += page.events
            guard let next = page.next else { return all }
            cursor = next
        }
    }

    /// `2026-12-04T23:10:00.123Z  app@host  <0.90.0>  call  lists:seq(1, 10)`, or the JSON object.
    static func line(_ event: TraceEvent, nodes: [UUID: String], json: Bool = false) -> String {
        if json, let data = try? APICoding.encoder().encode(event) { return String(decoding: data, as: UTF8.self) }
        let time = event.time.formatted(.iso8601.time(includingFractionalSeconds: true))
        return "\(time)  \(nodes[event.nodeID] ?? event.nodeID.uuidString.lowercased())  \(event.pid)  \(event.kind)  \(event.text)"
    }

    /// The session and how each node's part went.
    static func describe(_ session: TraceSession) -> String {
        var lines = ["session \(session.id.uuidString.lowercased()): \(session.kind.rawValue) \(session.target)" + (session.matchSpec.map { " \($0)" } ?? "")
                     + ", \(session.state.rawValue)",
                     "  limits: \(session.maxCount) events, \(session.maxRate) per \(session.rateWindowMs) ms, \(session.durationSeconds) s; by \(session.actor)"]
        for part in session.nodes {
            var text = "  \(part.nodeName): \(part.state.rawValue), \(part.kept) kept"
            if let reason = part.endReason { text += ", ended: \(reason.rawValue)" }
            if part.dropped > 0 { text += ", \(part.dropped) dropped" }
            if let error = part.error { text += " (\(error))" }
            lines.append(text)
        }
        return lines.joined(separator: "\n")
    }
}

/// A family's id, from its id or name.
func resolveFamily(_ text: String, with api: APIClient) async throws -> String {
    if UUID(uuidString: text) != nil { return text.lowercased() }
    let families = try await api.call("GET", "/api/topo/node_families", as: FamilyListResponse.self).value.families
    guard let match = families.first(where: { $0.name == text }) else { throw APIClient.Failure(description: "no node family is named \(text)") }
    return match.id.uuidString.lowercased()
}
