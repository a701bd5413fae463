import Foundation
import NIOConcurrencyHelpers

/// A service's per-node part (a metrics collector, a log collector, an alarm watcher): started
/// when its node is UP, stopped when it is not.
protocol NodeWorker: AnyObject, Sendable {
    func start()
    func stop() async
}

/// How many per-node workers run now, over every service: a flat figure while nodes flap
/// (DOWN stops a node's workers, UP starts them) shows none is left behind (`/api/health`).
public enum NodeWorkerCount {
    static let live = NIOLockedValueBox(0)

    public static var current: Int { live.withLockedValue { $0 } }
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
        if added {
            NodeWorkerCount.live.withLockedValue { $0 += 1 }
            worker.start()
        }
    }

    func stop(_ id: UUID) async {
        guard let worker = workers.withLockedValue({ $0.removeValue(forKey: id) }) else { return }
        await worker.stop()
        NodeWorkerCount.live.withLockedValue { $0 -= 1 }
    }

    func stopAll() async {
        let all = workers.withLockedValue { all -> [Worker] in
            defer { all = [:] }
            return Array(all.values)
        }
        for worker in all {
            await worker.stop()
            NodeWorkerCount.live.withLockedValue { $0 -= 1 }
        }
    }

    subscript(id: UUID) -> Worker? { workers.withLockedValue { $0[id] } }

    var count: Int { workers.withLockedValue { $0.count } }
}
