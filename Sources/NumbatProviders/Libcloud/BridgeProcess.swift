import Foundation
import NumbatCore
import NIOConcurrencyHelpers

/// The bridge's child process: its standard input to write requests to, a thread reading answer
/// lines from its standard output, and the end of its standard error kept for the error message
/// when it dies. Blocking reads run on threads of their own, off Swift's cooperative pool.
final class BridgeProcess: Sendable {
    enum Event: Sendable {
        case line(Data)
        /// Standard output ended: the bridge exited (with the end of what it wrote to stderr).
        case exited(standardError: String)
    }

    /// The most of stderr kept: enough for a Python traceback's last lines.
    static let standardErrorLimit = 8 * 1024

    private let process: Subprocess
    private let input: FileHandle
    private let running = NIOLockedValueBox(true)
    private let writeLock = NIOLock()

    init(python: String, script: String, onEvent: @escaping @Sendable (Event) -> Void) throws {
        // A write to a bridge that just died must fail with EPIPE, not kill Numbat with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Subprocess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // -u: unbuffered, so every answer line leaves at once.
        process.arguments = [python, "-u", script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw ProviderError("cannot start the Libcloud bridge with \(python): \(error)", code: "bridge_failed")
        }
        self.process = process
        self.input = stdin.fileHandleForWriting
        let errors = NIOLockedValueBox(Data())
        let errorReader = Thread {
            let handle = stderr.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                errors.withLockedValue { kept in
                    kept.append(chunk)
                    if kept.count > Self.standardErrorLimit { kept.removeFirst(kept.count - Self.standardErrorLimit) }
                }
            }
        }
        errorReader.start()
        let running = self.running
        let lineReader = Thread {
            let handle = stdout.fileHandleForReading
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if !line.isEmpty { onEvent(.line(Data(line))) }
                }
            }
            running.withLockedValue { $0 = false }
            // Give stderr's reader a moment to take the traceback that explains the exit.
            Thread.sleep(forTimeInterval: 0.2)
            onEvent(.exited(standardError: String(decoding: errors.withLockedValue { $0 }, as: UTF8.self)))
        }
        lineReader.start()
    }

    var isRunning: Bool { running.withLockedValue { $0 } }
    var processIdentifier: Int32 { process.processIdentifier }

    func write(_ data: Data) throws {
        try writeLock.withLock { try input.write(contentsOf: data) }
    }

    /// Closing standard input is the bridge's signal to finish and exit.
    func closeInput() {
        writeLock.withLock { try? input.close() }
    }
}
