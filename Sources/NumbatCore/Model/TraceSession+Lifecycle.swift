import Foundation

/// A session's state changes, pure: the tracing service's shell applies what the nodes report
/// and stores the result. A node part ends once; the session ends with its last running part.
extension TraceSession {
    /// `count` events arrived from `node`: how many of them are kept. Never more than `maxCount`
    /// per node in all (the node's tracer stops there; this holds even against a tracer that
    /// sent more), none from a part that ended.
    public mutating func admit(_ count: Int, from node: UUID) -> Int {
        guard let index = nodes.firstIndex(where: { $0.nodeID == node }), nodes[index].state == .running else { return 0 }
        let kept = max(0, min(count, maxCount - nodes[index].kept))
        nodes[index].kept += kept
        return kept
    }

    /// The node's part ended (its tracer said why, or it failed or went). Ends the session with
    /// its last running part; answers whether the session ended now. A part that had already
    /// ended keeps its first reason.
    @discardableResult
    public mutating func end(node: UUID, reason: EndReason, dropped: Int = 0, error: String? = nil, at time: Date) -> Bool {
        guard let index = nodes.firstIndex(where: { $0.nodeID == node }), nodes[index].state == .running else { return false }
        nodes[index].state = .ended
        nodes[index].endReason = reason
        nodes[index].dropped += dropped
        nodes[index].error = error
        guard state == .running, nodes.allSatisfy({ $0.state == .ended }) else { return false }
        state = .ended
        endedAt = time
        return true
    }

    /// Ends every part still running (the server stops, or found the session running after a
    /// restart: its nodes cleared the trace when the server went).
    public mutating func endAll(reason: EndReason, at time: Date) {
        for part in nodes where part.state == .running { end(node: part.nodeID, reason: reason, at: time) }
        if state == .running {
            state = .ended
            endedAt = time
        }
    }

    /// The events kept over every node.
    public var kept: Int { nodes.reduce(0) { $0 + $1.kept } }
}
