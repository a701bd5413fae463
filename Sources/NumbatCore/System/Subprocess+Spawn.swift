import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Subprocess {
    /// Starts the program (`PosixSpawn`). Throws with the reason (no such program, not
    /// executable, bad directory) and starts nothing then.
    public func run() throws {
        guard let executable = executableURL?.path else { throw SubprocessError("no program to run") }
        guard processIdentifier == 0 else { throw SubprocessError("\(executable) was started already") }

        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        /// The descriptor the child gets for one stream.
        func descriptor(_ stream: Any?, input: Bool) throws -> Int32 {
            switch stream {
            case let pipe as Pipe:
                return input ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor
            case let handle as FileHandle where handle !== FileHandle.nullDevice:
                return handle.fileDescriptor
            default:
                let null = open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC)
                guard null >= 0 else { throw SubprocessError("cannot open /dev/null: \(String(cString: strerror(errno)))") }
                opened.append(null)
                return null
            }
        }
        let streams = (try descriptor(standardInput, input: true), try descriptor(standardOutput, input: false),
                       try descriptor(standardError, input: false))
        let pid = try PosixSpawn.spawn(executable, arguments: arguments ?? [], environment: environment ?? ProcessInfo.processInfo.environment,
                                       streams: streams, directory: currentDirectoryURL?.path, grouping: ownProcessGroup ? .ownGroup : .inherit)
        started(pid)

        // The child has its own copies of the pipes' far ends: the parent's go, so that reading
        // the output ends when the child (and whatever inherited it) closes it.
        for (stream, input) in [(standardInput, true), (standardOutput, false), (standardError, false)] {
            guard let pipe = stream as? Pipe else { continue }
            try? (input ? pipe.fileHandleForReading : pipe.fileHandleForWriting).close()
        }
    }
}
