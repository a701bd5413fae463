import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One `posix_spawn` as every child of Numbat starts (`Subprocess`, and the OpenSSH client of
/// deployments): the three standard streams `dup2`ed into place, every other descriptor closed
/// in the child (glibc runs `close_range` there after the `dup2`s: nothing listed or closed in
/// the parent, where other threads open and close theirs), no signal blocked and every signal
/// at its default (a child inherits the spawning thread's mask and the parent's ignored
/// signals: Numbat blocks SIGTERM and SIGCHLD on its threads and ignores SIGPIPE), and a
/// process group or session of its own when asked.
public enum PosixSpawn {
    public enum Grouping: Sendable {
        /// The parent's process group.
        case inherit
        /// A process group of its own (Ctrl-C on a terminal reaches only the parent).
        case ownGroup
        /// A session of its own (`setsid`): no controlling terminal, so ssh never asks one
        /// for a password or a host key.
        case ownSession
    }

    /// Starts `executable` with `streams` as its descriptors 0, 1 and 2; its pid. Throws with
    /// the reason (no such program, not executable, bad directory) and starts nothing then.
    public static func spawn(_ executable: String, arguments: [String], environment: [String: String],
                             streams: (input: Int32, output: Int32, error: Int32), directory: String? = nil,
                             grouping: Grouping) throws(SubprocessError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, streams.input, 0)
        posix_spawn_file_actions_adddup2(&actions, streams.output, 1)
        posix_spawn_file_actions_adddup2(&actions, streams.error, 2)
        if let directory {
            guard let addChdir else { throw SubprocessError("this C library cannot set a child's directory") }
            _ = directory.withCString { addChdir(&actions, $0) }
        }
        addCloseFrom?(&actions, 3)

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
        switch grouping {
        case .inherit:
            break
        case .ownGroup:
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        case .ownSession:
            flags |= setSession
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw SubprocessError("cannot run \(executable): \(String(cString: strerror(status)))") }
        return pid
    }

    /// `POSIX_SPAWN_SETSID` (glibc 2.26), which Swift's Glibc module does not export.
    private static let setSession: Int32 = 0x80

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `_addchdir_np` (2.29),
    /// which Swift's Glibc module leaves out (they are GNU extensions), looked up by name.
    private static let addCloseFrom: AddCloseFrom? = GlibcSymbol.lookup("posix_spawn_file_actions_addclosefrom_np")
    private static let addChdir: AddChdir? = GlibcSymbol.lookup("posix_spawn_file_actions_addchdir_np")
}

/// A C library function Swift's Glibc module does not declare (GNU extensions, `<malloc.h>`),
/// looked up by name in the running process.
enum GlibcSymbol {
    static func lookup<Function>(_ name: String) -> Function? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }
}
