// `numbat-bench`: Swift-vs-Erlang benchmarks of the distribution layer and the term codec.
// See BenchCommand.swift and docs/benchmarks.md.
import ArgumentParser
import Dispatch
import Foundation
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

let command: BenchCommand
do {
    command = try BenchCommand.parse()
} catch {
    BenchCommand.exit(withError: error)
}

// `--codec-count` on an existing `--codec-file` with `--sides swift` (scripts/callgrind-codec.sh):
// the counted loops alone, synchronously, before any thread, event loop or signal source exists.
// valgrind 3.19 crashes on the main thread's `sigsuspend` that an async main (or dispatchMain)
// parks in, so this file has no top-level `await`: the rest runs in a task while the main thread
// waits on a semaphore, which valgrind follows (the task is detached: top-level code is on the
// main actor, whose queue nobody serves then); rpc round trips can then be counted too
// (docs/benchmarks.md). Nothing in numbat-bench runs on the main queue.
if command.countsCodecOnly {
    do {
        try command.countCodecFile()
        exit(0)
    } catch {
        BenchCommand.exit(withError: error)
    }
}

Task.detached {
    do {
        try await command.run()
        exit(0)
    } catch {
        BenchCommand.exit(withError: error)
    }
}
DispatchSemaphore(value: 0).wait()
