/// Runs `work` in a child task and returns what it returns (or throws).
///
/// Why: a task keeps every slab its task allocator ever took until the task ends (Swift's
/// `StackAllocator` reuses slabs but does not give them back), so a task that lives as long as
/// its node holds memory sized for the deepest call it ever made: an agent's injection, an
/// rpc and its reply's decoding. At 300 simulated nodes heaptrack found 65.6 KB per node in
/// task allocators, most of it in these per-node loops (docs/benchmarks.md, "Memory per managed
/// node"). A loop that runs each cycle's deep work here keeps only its own small frames; the
/// child's are freed when the cycle ends. The child inherits the caller's priority, task
/// executor preference and cancellation (it is structured), and costs one task creation per
/// call: nothing at the rates of per-node cycles (seconds apart).
public func inTransientTask<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask(operation: work)
        // One child, which returns or throws; `next()` rethrows what it threw.
        guard let result = try await group.next() else { preconditionFailure("a task group lost its only child") }
        return result
    }
}

/// `inTransientTask` for work that cannot fail.
public func inTransientTask<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
    await withTaskGroup(of: T.self) { group in
        group.addTask(operation: work)
        guard let result = await group.next() else { preconditionFailure("a task group lost its only child") }
        return result
    }
}
