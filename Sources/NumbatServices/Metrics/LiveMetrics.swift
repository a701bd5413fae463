import Foundation
import NIOConcurrencyHelpers

/// Live metrics (seed 4.2.2, the *Live metrics* tab): while someone watches a node, its metrics
/// are collected every `period` and handed to every viewer; nothing is collected for nodes
/// nobody watches. One sampler per node, shared by its viewers; it stops `linger` after the
/// last viewer leaves (a page reload does not restart it). Live samples are not stored.
final class LiveMetrics: Sendable {
    struct Sample: Sendable {
        var node: UUID
        var time: Date
        var values: [String: Double]
        /// Why this second has no values (the node is DOWN, the call timed out).
        var error: String?
    }

    let period: Duration
    let linger: Duration
    /// One collection of a node, bounded in time by the caller.
    private let collect: @Sendable (UUID) async throws -> MetricSnapshot
    private let state = NIOLockedValueBox(State())

    private struct State {
        var viewers: [UUID: [UUID: AsyncStream<Sample>.Continuation]] = [:]
        var samplers: [UUID: Task<Void, Never>] = [:]
    }

    init(period: Duration = .seconds(1), linger: Duration = .seconds(10),
         collect: @escaping @Sendable (UUID) async throws -> MetricSnapshot) {
        self.period = period
        self.linger = linger
        self.collect = collect
    }

    /// Starts watching `node`: samples arrive on the stream until `unwatch` or the stream's end.
    func watch(_ node: UUID) -> (viewer: UUID, samples: AsyncStream<Sample>) {
        let viewer = UUID()
        // A slow viewer gets the newest samples, not an ever-growing queue.
        let (stream, continuation) = AsyncStream<Sample>.makeStream(bufferingPolicy: .bufferingNewest(4))
        continuation.onTermination = { [weak self] _ in self?.unwatch(node, viewer: viewer) }
        state.withLockedValue { state in
            state.viewers[node, default: [:]][viewer] = continuation
            if state.samplers[node] == nil {
                state.samplers[node] = Task { [weak self] in await self?.sample(node) }
            }
        }
        return (viewer, stream)
    }

    func unwatch(_ node: UUID, viewer: UUID) {
        let continuation = state.withLockedValue { $0.viewers[node]?.removeValue(forKey: viewer) }
        continuation?.finish()
    }

    /// Nodes being sampled now (viewers, or the linger after the last one).
    var samplingCount: Int { state.withLockedValue { $0.samplers.count } }

    func stop() async {
        let (tasks, continuations) = state.withLockedValue { state in
            defer { state = State() }
            return (Array(state.samplers.values), state.viewers.values.flatMap(\.values))
        }
        for continuation in continuations { continuation.finish() }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    private func sample(_ node: UUID) async {
        let clock = ContinuousClock()
        var idleSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            let started = clock.now
            let viewers = state.withLockedValue { state -> [AsyncStream<Sample>.Continuation]? in
                let viewers = Array((state.viewers[node] ?? [:]).values)
                if viewers.isEmpty {
                    let since = idleSince ?? started
                    if started - since >= linger {
                        state.samplers[node] = nil
                        state.viewers[node] = nil
                        return nil
                    }
                }
                return viewers
            }
            guard let viewers else { return }
            if viewers.isEmpty {
                if idleSince == nil { idleSince = started }
            } else {
                idleSince = nil
                let sample: Sample
                do {
                    let snapshot = try await collect(node)
                    sample = Sample(node: node, time: snapshot.time, values: snapshot.values.dictionary)
                } catch {
                    sample = Sample(node: node, time: Date(), values: [:], error: "\(error)")
                }
                for viewer in viewers { viewer.yield(sample) }
            }
            try? await Task.sleep(until: started + period, clock: clock)
        }
    }
}
