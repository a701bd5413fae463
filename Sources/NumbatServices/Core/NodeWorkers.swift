import Foundation
import NIOConcurrencyHelpers

/// A service's per-node part (a metrics collector, a log collector, an alarm watcher): started
/// when its node is UP, stopped when it is not.
protocol NodeWorker: AnyObject, Sendable {
    func start()
    func stop() async
}

/// The per-node workers of one service, at most one per node: a node reported UP twice (added,
/// then its connection confirmed) gets one worker, injected and started once.
final class NodeWorkers<Worker: NodeWorker>: Sendable {
    private let workers = NIOLockedValueBox<[UUID: Worker]>([:])

    /// Starts `make()`'s worker for the node unless it has one.
    func start(_ id: UUID, _ make: () -> Worker) {
        let worker = make()
        let added = workers.withLockedValue { all -> Bool in
            guard all[id] == nil else { return false }
            all[id] = worker
            return true
        }
        if added { worker.start() }
    }

    func stop(_ id: UUID) async {
        await workers.withLockedValue { $0.removeValue(forKey: id) }?.stop()
    }

    func stopAll() async {
        let all = workers.withLockedValue { all -> [Worker] in
            defer { all = [:] }
            return Array(all.values)
        }
        for worker in all { await worker.stop() }
    }

    subscript(id: UUID) -> Worker? { workers.withLockedValue { $0[id] } }

    var count: Int { workers.withLockedValue { $0.count } }
}
