import NumbatCore

extension PrometheusExposition {
    /// The server's own process, under the names Prometheus's client libraries give these
    /// figures (`process_*`), and glibc's allocator as `numbat_heap_*`: heap allocated growing
    /// over a long run is a leak; resident memory growing with heap free is the allocator
    /// keeping freed memory.
    static func render(_ footprint: ProcessFootprint) -> String {
        var families: [(name: String, type: String, help: String, value: Double)] = [
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes", Double(footprint.residentBytes)),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes", Double(footprint.virtualBytes)),
            ("process_open_fds", "gauge", "Number of open file descriptors", Double(footprint.openFileDescriptors)),
            ("process_max_fds", "gauge", "Maximum number of open file descriptors", Double(footprint.maxFileDescriptors)),
            ("process_threads", "gauge", "Number of OS threads", Double(footprint.threads)),
            ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds", footprint.cpuSeconds),
            ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds", footprint.startTimeSeconds),
        ]
        if let heap = footprint.heap {
            families += [
                ("numbat_heap_allocated_bytes", "gauge", "Bytes handed out by malloc and not yet freed", Double(heap.allocatedBytes)),
                ("numbat_heap_free_bytes", "gauge", "Bytes free inside malloc's arenas, kept for reuse", Double(heap.freeBytes)),
                ("numbat_heap_arenas", "gauge", "Arenas of malloc", Double(heap.arenas)),
            ]
            if let sqlite = heap.sqliteBytes {
                families.append(("numbat_heap_sqlite_bytes", "gauge", "Of the bytes allocated, those SQLite holds (page caches, statements)", Double(sqlite)))
            }
        }
        return families.map { "# HELP \($0.name) \($0.help)\n# TYPE \($0.name) \($0.type)\n\($0.name) \(format($0.value))\n" }.joined()
    }
}
