/// A command that follows something the server does (a deployment, an upgrade) gives up
/// waiting after the user's `--timeout`: what it follows goes on on the server.
enum Deadline {
    /// `work`'s result, or nil when `seconds` pass first (`work` is then cancelled).
    static func run<T: Sendable>(seconds: Double, _ work: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
