import Foundation

extension Process {
    /// Starts the process with no signal blocked. A child inherits the signal mask of the thread
    /// that spawns it, and the test process's threads (the cooperative pool's, and the threads
    /// they start) block SIGTERM and SIGCHLD: a shell script's SIGTERM trap then never ran, nor
    /// did its `wait` return (RabbitMQ's start script: every stop waited out its bound), and a
    /// program stopped with SIGTERM only died at the SIGKILL after it. The calling thread's mask
    /// is emptied for the spawn only, then put back. Ignored signals are inherited too, and
    /// cannot be trapped by a shell that starts with them ignored: once an in-process server's
    /// service lifecycle has set SIGTERM to SIG_IGN (as it does, to watch it with a dispatch
    /// source), every child would ignore it. So the program runs through coreutils'
    /// `env --default-signal`, which puts TERM, INT, HUP and QUIT back to their default before
    /// it execs the program (same process id).
    public func runUnblocked() throws {
        if let program = executableURL?.path, FileManager.default.isExecutableFile(atPath: Self.env) {
            arguments = ["--default-signal=TERM,INT,HUP,QUIT", program] + (arguments ?? [])
            executableURL = URL(fileURLWithPath: Self.env)
        }
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try runSerialized()
    }

    /// `run()`, one spawn at a time in the test process. Foundation's `Process.run()` crashed in
    /// `memcpy` twice under heavy concurrent spawning (CI's big group, and PackageTests polling
    /// with hundreds of CLI runs), taking the whole test process and its peers' cleanup with it;
    /// spawns from many threads at once are where that happens. A spawn takes milliseconds.
    public func runSerialized() throws {
        try Self.spawnLock.withLock { try run() }
    }

    private static let spawnLock = NSLock()

    static let env = "/usr/bin/env"
}
