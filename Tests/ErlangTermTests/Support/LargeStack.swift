import Foundation

/// Runs blocking work on a thread of its own, like `offPool`, but with a 64 MB stack (address
/// space only; untouched pages cost nothing). The Erlang corpus holds terms nested 1,000 deep,
/// and a debug build spends up to 3 KB of stack per level decoding, comparing or describing
/// them: more than the 1 MB stack `offPool` gives its threads.
func onLargeStack<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await onThread(stackSize: 64 << 20, body)
}

/// Runs `body` on a new thread with a stack of `stackSize` bytes.
func onThread<T: Sendable>(stackSize: Int, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = stackSize
        thread.start()
    }
}
