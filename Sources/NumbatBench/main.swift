// `numbat-bench`: Swift-vs-Erlang benchmarks of the distribution layer and the term codec.
// See BenchCommand.swift and docs/benchmarks.md.
import ArgumentParser
import NIOCore
import NIOPosix

// --nio-executor (an experiment, see docs/benchmarks.md): run Swift concurrency's global executor on
// NIO's event loop threads, so that a task resumed by a reply, and the futures the distribution
// code awaits, need no hop between the cooperative pool and the event loops. It must be installed
// before the first task is enqueued, hence here and not in `run()`.
if CommandLine.arguments.contains("--nio-executor") {
    if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
        print("numbat-bench: could not install NIO's event loops as the global executor")
    }
}

do {
    let command = try BenchCommand.parse()
    try await command.run()
} catch {
    BenchCommand.exit(withError: error)
}
