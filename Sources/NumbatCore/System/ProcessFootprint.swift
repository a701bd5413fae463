#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What this process holds now: resident memory, descriptors, threads and CPU from `/proc/self`,
/// and what glibc's allocator has handed out and keeps free. Served as Numbat's own metrics
/// (`GET /metrics`), so an operator sees the server's footprint beside the nodes', and a long
/// run can tell a leak (allocated bytes growing) from an allocator holding on to freed memory
/// (resident memory growing with free bytes, allocated flat).
public struct ProcessFootprint: Sendable, Equatable {
    public var residentBytes: Int
    public var virtualBytes: Int
    public var openFileDescriptors: Int
    /// The soft limit on open descriptors.
    public var maxFileDescriptors: Int
    public var threads: Int
    /// User and system CPU time since the process started.
    public var cpuSeconds: Double
    /// When the process started, in seconds since the Unix epoch.
    public var startTimeSeconds: Double
    /// The allocator's figures; nil where glibc's `malloc_info` is not available.
    public var heap: Heap?

    public struct Heap: Sendable, Equatable {
        /// Bytes handed out by malloc and not yet freed (arena memory less its free chunks, plus
        /// the chunks malloc mapped on their own).
        public var allocatedBytes: Int
        /// Bytes free inside the arenas: kept for reuse, resident once touched.
        public var freeBytes: Int
        /// The arenas (glibc makes up to eight per core, one per thread contending for the main one).
        public var arenas: Int
        /// Of the allocated bytes, those SQLite holds (page caches of the embedded store's
        /// connections, prepared statements: they grow with the database up to their limits);
        /// nil where SQLite is not loaded.
        public var sqliteBytes: Int?
    }

    /// The footprint now; nil where `/proc/self` cannot be read.
    public static func current() -> ProcessFootprint? {
        guard let status = ProcFile.read("/proc/self/status"), let stat = ProcFile.read("/proc/self/stat") else { return nil }
        // /proc/self/stat: the command is in parentheses and may hold spaces; the fields after it
        // start with the state (field 3): utime is field 14, stime 15, starttime 22.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let userTicks = Double(fields[11]), let systemTicks = Double(fields[12]),
              let startTicks = Double(fields[19]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let bootTime = ProcFile.read("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
        func kib(_ key: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            return (line?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first).flatMap { Int($0) }.map { $0 * 1024 } ?? 0
        }
        let threads = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            .flatMap { Int($0.dropFirst(8).trimmingCharacters(in: .whitespaces)) } ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessFootprint(residentBytes: kib("VmRSS"), virtualBytes: kib("VmSize"), openFileDescriptors: openDescriptors(),
                                maxFileDescriptors: Int(clamping: limit.rlim_cur), threads: threads,
                                cpuSeconds: (userTicks + systemTicks) / ticks, startTimeSeconds: bootTime + startTicks / ticks,
                                heap: MallocInfo.read().flatMap(Heap.init(mallocInfo:)).map { heap in
                                    var heap = heap
                                    heap.sqliteBytes = sqliteMemoryUsed.map { Int($0()) }
                                    return heap
                                })
    }

    /// `sqlite3_memory_used()`, looked up by name: the store module links SQLite, the rest of
    /// Numbat does not import it.
    private static let sqliteMemoryUsed: (@convention(c) () -> Int64)? = GlibcSymbol.lookup("sqlite3_memory_used")

    /// The entries of `/proc/self/fd`, less the one the listing itself holds open.
    static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return max(0, count - 1)
    }
}

extension ProcessFootprint.Heap {
    /// The totals of glibc's `malloc_info` XML: after the last arena's `</heap>` come the whole
    /// process's `<total type="fast|rest|mmap" count= size=/>` and `<system type="current" size=/>`.
    init?(mallocInfo xml: String) {
        guard let end = xml.range(of: "</heap>", options: .backwards) else { return nil }
        let totals = xml[end.upperBound...]
        func size(_ element: String, _ type: String) -> Int? {
            guard let start = totals.range(of: "<\(element) type=\"\(type)\"") else { return nil }
            let rest = totals[start.upperBound...]
            guard let sizeStart = rest.range(of: "size=\"") else { return nil }
            return Int(rest[sizeStart.upperBound...].prefix { $0.isNumber })
        }
        guard let fast = size("total", "fast"), let free = size("total", "rest"), let mapped = size("total", "mmap"),
              let system = size("system", "current") else { return nil }
        self.init(allocatedBytes: max(0, system - fast - free) + mapped, freeBytes: fast + free,
                  arenas: xml.components(separatedBy: "<heap nr=").count - 1, sqliteBytes: nil)
    }
}

extension ProcessFootprint {
    /// Gives the pages of malloc's free chunks back to the system (glibc's `malloc_trim(0)`,
    /// which releases free pages inside every arena, not only at their tops). A long-running
    /// server's threads come and go (libdispatch's workers) and leave freed memory scattered over
    /// up to eight arenas a core, resident though unused: in a flapping-links campaign malloc's
    /// free bytes grew from 1 to 8 MiB while the allocated bytes stayed flat. False where glibc's
    /// function is missing or had nothing to release.
    @discardableResult
    public static func releaseFreeHeap() -> Bool {
        guard let mallocTrim else { return false }
        return mallocTrim(0) == 1
    }

    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = GlibcSymbol.lookup("malloc_trim")

    /// Caps the arenas glibc's malloc makes (`mallopt(M_ARENA_MAX, count)`, as the
    /// `MALLOC_ARENA_MAX` environment variable does), for threads that allocate after the call.
    /// glibc gives threads arenas of their own, up to eight a core, and a server that frees
    /// most of what a collection allocated leaves free chunks scattered over all of them:
    /// resident, and not returned by `malloc_trim` unless whole pages are free. False where
    /// glibc's function is missing or refused.
    @discardableResult
    public static func limitHeapArenas(to count: Int) -> Bool {
        guard let mallopt, count > 0 else { return false }
        return mallopt(-8 /* M_ARENA_MAX */, Int32(clamping: count)) == 1
    }

    /// Which of its malloc settings a server applies at start: those glibc was not already
    /// given, by its variables (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`,
    /// `MALLOC_TRIM_THRESHOLD_`) or its tunables (`GLIBC_TUNABLES=glibc.malloc.arena_max=...`).
    public struct HeapTuning: Equatable, Sendable {
        /// Cap the arenas (`limitHeapArenas`).
        public var limitArenas: Bool
        /// Fix the mapping and trim thresholds (`fixHeapThresholds`): only when neither was given.
        public var fixThresholds: Bool

        public init(limitArenas: Bool, fixThresholds: Bool) {
            self.limitArenas = limitArenas
            self.fixThresholds = fixThresholds
        }

        public init(environment: [String: String]) {
            let tunables = environment["GLIBC_TUNABLES"] ?? ""
            limitArenas = environment["MALLOC_ARENA_MAX"] == nil && !tunables.contains("malloc.arena_max")
            fixThresholds = environment["MALLOC_MMAP_THRESHOLD_"] == nil && environment["MALLOC_TRIM_THRESHOLD_"] == nil
                && !tunables.contains("malloc.mmap_threshold") && !tunables.contains("malloc.trim_threshold")
        }
    }

    /// Fixes the size from which glibc's malloc serves a request with a mapping of its own
    /// (`M_MMAP_THRESHOLD`, as `MALLOC_MMAP_THRESHOLD_` does) and the free space at an arena's
    /// top it gives back at once (`M_TRIM_THRESHOLD`, as `MALLOC_TRIM_THRESHOLD_` does).
    /// glibc's own thresholds start at 128 KiB and rise each time a mapped block is freed (the
    /// mapping threshold up to 32 MiB, the trim threshold to twice it): after a few large answers, large transient buffers come from the arenas and
    /// leave their space among long-lived blocks. Fixed, they keep going to mappings, returned
    /// whole when freed. (glibc maps only what its arena cannot serve from free space: the
    /// effect shows as less free space over time, measured by `numbat-bench --only scale`.)
    /// False where glibc's function is missing or refused.
    @discardableResult
    public static func fixHeapThresholds(mapping: Int, trim: Int) -> Bool {
        guard let mallopt else { return false }
        let mapped = mallopt(-3 /* M_MMAP_THRESHOLD */, Int32(clamping: mapping)) == 1
        let trimmed = mallopt(-1 /* M_TRIM_THRESHOLD */, Int32(clamping: trim)) == 1
        return mapped && trimmed
    }

    private static let mallopt: (@convention(c) (Int32, Int32) -> Int32)? = GlibcSymbol.lookup("mallopt")
}

/// glibc's `malloc_info(0, stream)`, written into memory. Looked up with `dlsym`: Swift's Glibc
/// module does not include `<malloc.h>`.
enum MallocInfo {
    private typealias Function = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
    private static let function: Function? = GlibcSymbol.lookup("malloc_info")

    static func read() -> String? {
        guard let function else { return nil }
        var buffer: UnsafeMutablePointer<CChar>?
        var length = 0
        guard let stream = open_memstream(&buffer, &length) else { return nil }
        let status = function(0, stream)
        fclose(stream)
        defer { free(buffer) }
        guard status == 0, let buffer else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    }
}

/// A file of `/proc` read whole (Foundation's `String(contentsOfFile:)` stops at a procfs file's
/// first page).
enum ProcFile {
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
