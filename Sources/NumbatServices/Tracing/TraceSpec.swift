import ErlangTerm
import Foundation
import NumbatAPI
import NumbatCore

/// A trace request checked and made concrete, pure: what the node's tracer is given
/// (`options(session:)`), or a 400 naming what is wrong, before any node is asked.
struct TraceSpec: Sendable, Equatable {
    /// The server's defaults and caps for every session.
    struct Limits: Sendable, Equatable {
        var defaultMaxCount = 100
        var maximumMaxCount = 100_000
        var defaultMaxRate = 1000
        var maximumMaxRate = 100_000
        var defaultRateWindowMs = 1000
        var defaultDurationSeconds = 60
        var maximumDurationSeconds = 3600
    }

    var kind: TraceSession.Kind
    var module: String?
    /// nil: any (`_`).
    var function: String?
    var arity: Int?
    /// The match spec as a term; nil traces every call with no action (`true`).
    var matchSpec: Term?
    var matchSpecText: String?
    /// A pid (`<0.80.0>`) or a registered name.
    var process: String?
    var maxCount: Int
    var maxRate: Int
    var rateWindowMs: Int
    var durationSeconds: Int

    /// What the session shows as its target: `lists:seq/2`, `<0.80.0>`, `all`.
    var target: String {
        switch kind {
        case .call: "\(module ?? "?"):\(function ?? "_")/\(arity.map(String.init) ?? "_")"
        case .messages, .gc: process ?? "all"
        }
    }

    /// Match spec shorthands, recon_trace-like: the action on every call.
    static let shorthands: [String: String] = [
        "return_trace": "[{'_', [], [{return_trace}]}]",
        "exception_trace": "[{'_', [], [{exception_trace}]}]",
        "caller": "[{'_', [], [{message, {caller}}]}]",
    ]

    init(_ request: StartTraceRequest, limits: Limits) throws {
        guard let kind = TraceSession.Kind(rawValue: request.kind ?? "call") else {
            throw NumbatError.badRequest("invalid_kind", "kind must be one of \(TraceSession.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.kind = kind
        switch kind {
        case .call:
            guard let mfa = request.mfa else { throw NumbatError.badRequest("invalid_mfa", "a call trace needs mfa, as module:function/arity") }
            let parsed = try Self.mfa(mfa)
            module = parsed.0
            function = parsed.1
            arity = parsed.2
            guard request.process == nil else { throw NumbatError.badRequest("invalid_process", "process is for messages and gc traces") }
            if let text = request.matchSpec {
                matchSpecText = text
                matchSpec = try Self.matchSpec(text)
            }
        case .messages, .gc:
            guard request.mfa == nil, request.matchSpec == nil else {
                throw NumbatError.badRequest("invalid_mfa", "mfa and match_spec are for call traces")
            }
            if let process = request.process {
                self.process = try Self.process(process)
            } else if kind == .messages {
                throw NumbatError.badRequest("invalid_process", "a messages trace needs process: a pid (<0.80.0>) or a registered name")
            }
        }
        maxCount = try Self.bounded("max_count", request.maxCount, default: limits.defaultMaxCount, maximum: limits.maximumMaxCount)
        maxRate = try Self.bounded("max_rate", request.maxRate, default: limits.defaultMaxRate, maximum: limits.maximumMaxRate)
        rateWindowMs = try Self.bounded("rate_window_ms", request.rateWindowMs, default: limits.defaultRateWindowMs, maximum: 60_000)
        durationSeconds = try Self.bounded("duration_s", request.durationS, default: limits.defaultDurationSeconds,
                                           maximum: limits.maximumDurationSeconds)
    }

    static func bounded(_ name: String, _ value: Int?, default fallback: Int, maximum: Int) throws -> Int {
        guard let value else { return fallback }
        guard (1...maximum).contains(value) else { throw NumbatError.badRequest("invalid_\(name)", "\(name) must be between 1 and \(maximum)") }
        return value
    }

    /// `module:function/arity`; function and arity may be `_`. Atoms are written bare (Elixir's
    /// `Elixir.Foo.Bar` too) or quoted (`'Elixir.Foo':bar/1`).
    static func mfa(_ text: String) throws -> (String, String?, Int?) {
        let invalid = NumbatError.badRequest("invalid_mfa", "mfa must be module:function/arity (function and arity may be _), not \(text.debugDescription)")
        guard let slash = text.lastIndex(of: "/") else { throw invalid }
        let arityText = text[text.index(after: slash)...]
        let head = text[..<slash]
        guard let colon = head.lastIndex(of: ":") else { throw invalid }
        let module = try atom(String(head[..<colon]), or: invalid)
        let function = try atom(String(head[head.index(after: colon)...]), or: invalid)
        guard module != "_" else { throw NumbatError.badRequest("invalid_mfa", "the module must be named: tracing every module is refused") }
        let arity: Int?
        if arityText == "_" {
            arity = nil
        } else if let value = Int(arityText), (0...255).contains(value), arityText.allSatisfy(\.isASCII) {
            arity = value
        } else {
            throw invalid
        }
        return (module, function == "_" ? nil : function, arity)
    }

    /// An atom's name, bare or quoted, at most 255 characters.
    static func atom(_ text: String, or error: NumbatError) throws -> String {
        var name = text.trimmingCharacters(in: .whitespaces)
        if name.count >= 2, name.hasPrefix("'"), name.hasSuffix("'") { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty, name.count <= Atom.maxLength, !name.contains("'"),
              name.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && $0.value >= 0x20 }) else { throw error }
        return name
    }

    /// A shorthand or an Erlang match spec: a list of `{Head, Guards, Body}` tuples. The node
    /// checks it further (`erlang:match_spec_test/3`) and its errors come back as a 400 too.
    static func matchSpec(_ text: String) throws -> Term {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let source = shorthands[trimmed] ?? trimmed
        let parsed: Term
        do {
            parsed = try TermParser.parse(source)
        } catch {
            throw NumbatError.badRequest("invalid_match_spec", "match_spec: \(error); give a shorthand (\(shorthands.keys.sorted().joined(separator: ", "))) or a list of {Head, Guards, Body}")
        }
        guard let clauses = parsed.listElements, !clauses.isEmpty,
              clauses.allSatisfy({ $0.tupleElements?.count == 3 && $0.tupleElements?[1].listElements != nil && $0.tupleElements?[2].listElements != nil })
        else {
            throw NumbatError.badRequest("invalid_match_spec", "a match spec is a non-empty list of {Head, Guards, Body} tuples, e.g. [{'_', [], [{return_trace}]}]")
        }
        return parsed
    }

    /// A pid (`<0.80.0>` or `0.80.0`) or a registered name.
    static func process(_ text: String) throws -> String {
        if text.first?.isNumber == true || text.hasPrefix("<") { return try CommandsService.pid(text) }
        let valid = text.first.map { $0.isLowercase && $0.isASCII } == true && text.count <= Atom.maxLength
            && text.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "@") && $0.isASCII }
        guard valid else { throw NumbatError.badRequest("invalid_process", "process must be a pid (<0.80.0>) or a registered name") }
        return text
    }

    /// The tracer's options (`numbat_trace_agent:start/2`).
    func options(session: UUID) -> Term {
        var options: [Term: Term] = [
            .atom("session"): .binary(Array(session.uuidString.lowercased().utf8)),
            .atom("kind"): .atom(Atom(kind.rawValue)),
            .atom("max_count"): .integer(maxCount),
            .atom("max_rate"): .tuple([.integer(maxRate), .integer(rateWindowMs)]),
            .atom("duration_ms"): .integer(durationSeconds * 1000),
        ]
        // Names go as binaries: the agent makes atoms only of names the node knows, so a
        // misspelt module, function or process name leaves no atom in the node's atom table.
        if kind == .call, let module {
            options[.atom("mfa")] = .tuple([.binary(Array(module.utf8)), .binary(Array((function ?? "_").utf8)), arity.map { .integer($0) } ?? .atom("_")])
            options[.atom("match_spec")] = matchSpec ?? .atom(.true)
        }
        if let process {
            options[.atom("target")] = process.hasPrefix("<") ? .binary(Array(process.utf8)) : .tuple([.atom("name"), .binary(Array(process.utf8))])
        }
        return .map(options)
    }
}
