import Foundation
import NumbatCore
import NumbatStore
import NumbatTestSupport
import Testing

extension StoreConformanceTests {
    @Test("trace sessions: saved and replaced whole, newest first; events in pages by id; pruning takes the oldest with their events",
          arguments: StoreBackend.allCases)
    func traces(backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = fixture.store
            let node = UUID()
            func session(_ offset: TimeInterval) -> TraceSession {
                TraceSession(kind: .call, target: "lists:seq/2", matchSpec: "return_trace", familyID: nil, maxCount: 10, maxRate: 100,
                             rateWindowMs: 1000, durationSeconds: 60, actor: "admin", startedAt: Self.t0.addingTimeInterval(offset),
                             nodes: [TraceSession.NodePart(nodeID: node, nodeName: "a@h")])
            }
            var first = session(0)
            let second = session(10)
            try await store.saveTraceSession(first)
            try await store.saveTraceSession(second)
            #expect(try await store.traceSession(id: first.id) == first)
            #expect(try await store.traceSession(id: UUID()) == nil)
            // Replaced whole: a part that ended.
            _ = first.admit(3, from: node)
            first.end(node: node, reason: .maxCount, dropped: 1, at: Self.t0.addingTimeInterval(5))
            try await store.saveTraceSession(first)
            #expect(try await store.traceSession(id: first.id) == first)
            #expect(try await store.traceSessions(limit: 10).map(\.id) == [second.id, first.id])
            #expect(try await store.traceSessions(limit: 1).map(\.id) == [second.id])

            let events = (0..<5).map { index in
                TraceEvent(sessionID: first.id, nodeID: node, time: Self.t0.addingTimeInterval(Double(index)), kind: index % 2 == 0 ? "call" : "return_from",
                           pid: "<0.9\(index).0>", text: "lists:seq(1, \(index)) ünïcode")
            }
            let stored = try await store.appendTraceEvents(events)
            #expect(stored.count == 5 && zip(stored, stored.dropFirst()).allSatisfy { $0.id < $1.id }, "ids increase in order")
            #expect(stored.map { var e = $0; e.id = 0; return e } == events)
            _ = try await store.appendTraceEvents([TraceEvent(sessionID: second.id, nodeID: node, time: Self.t0, kind: "call", pid: "<0.1.0>", text: "other")])
            let page1 = try await store.traceEvents(session: first.id, after: nil, limit: 3)
            #expect(page1 == Array(stored.prefix(3)))
            let page2 = try await store.traceEvents(session: first.id, after: page1.last?.id, limit: 3)
            #expect(page2 == Array(stored.suffix(2)))
            #expect(try await store.appendTraceEvents([]).isEmpty)

            // Keeping the newest one: the first session and its events go.
            #expect(try await store.pruneTraceSessions(keep: 1) == 1)
            #expect(try await store.traceSession(id: first.id) == nil)
            #expect(try await store.traceEvents(session: first.id, after: nil, limit: 10).isEmpty)
            #expect(try await store.traceEvents(session: second.id, after: nil, limit: 10).count == 1)
            #expect(try await store.pruneTraceSessions(keep: 1) == 0)
        }
    }
}
