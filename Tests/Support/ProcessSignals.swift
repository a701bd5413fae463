import Foundation

extension Process {
    /// Starts the process with no signal blocked. A child inherits the signal mask of the thread
    /// that spawns it, and the test process's threads (the cooperative pool's, and the threads
    /// they start) block SIGTERM and SIGCHLD: a shell script's SIGTERM trap then never ran, nor
    /// did its `wait` return (RabbitMQ's start script: every stop waited out its bound), and a
    /// program stopped with SIGTERM only died at the SIGKILL after it. The calling thread's mask
    /// is emptied for the spawn only, then put back.
    public func runUnblocked() throws {
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try run()
    }
}
