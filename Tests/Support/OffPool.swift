import Foundation

/// Runs blocking work (waiting for a child process, reading its pipe) on a thread of its own.
///
/// Swift's cooperative pool has one thread per core: two tests blocked in `waitUntilExit()` on a
/// 2-core machine would starve every other task, including the Swift side of the very exchange
/// the blocked test waits for.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
