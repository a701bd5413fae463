import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Subprocess {
    /// Starts the program. Throws with the reason (no such program, not executable, bad
    /// directory) and starts nothing then.
    public func run() throws {
        guard let executable = executableURL?.path else { throw SubprocessError("no program to run") }
        guard processIdentifier == 0 else { throw SubprocessError("\(executable) was started already") }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
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
        let streams = [try descriptor(standardInput, input: true), try descriptor(standardOutput, input: false),
                       try descriptor(standardError, input: false)]
        for (target, source) in streams.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, source, Int32(target))
        }
        if let directory = currentDirectoryURL?.path {
            guard let addChdir = Self.addChdir else { throw SubprocessError("this C library cannot set a child's directory") }
            _ = directory.withCString { addChdir(&actions, $0) }
        }
        Self.addCloseFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Int32(1)...31 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if ownProcessGroup {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + (arguments ?? [])).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw SubprocessError("cannot run \(executable): \(String(cString: strerror(status)))") }
        started(pid)

        // The child has its own copies of the pipes' far ends: the parent's go, so that reading
        // the output ends when the child (and whatever inherited it) closes it.
        for (stream, input) in [(standardInput, true), (standardOutput, false), (standardError, false)] {
            guard let pipe = stream as? Pipe else { continue }
            try? (input ? pipe.fileHandleForReading : pipe.fileHandleForWriting).close()
        }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `_addchdir_np` (2.29),
    /// which Swift's Glibc module leaves out (they are GNU extensions), looked up by name.
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<Function>(_ name: String) -> Function? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }
}
