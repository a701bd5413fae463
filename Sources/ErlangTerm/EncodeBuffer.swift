/// Where a thread encodes terms before they are copied to their destination: grown as needed,
/// kept between encodes, so encoding allocates nothing but its result. A size pass would make
/// the result's room exactly, but it walks the term twice, and walking (copying each `Term`
/// out of its array) costs more than the one copy of the bytes this buffer needs.
final class EncodeBuffer {
    /// Kept between encodes up to this size; a bigger term's room is given back after it.
    static let keptCapacity = 1 << 20

    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Whether an encode is using the buffer; a nested one (a term encoded while encoding
    /// another, on the same thread) gets a buffer of its own.
    var inUse = false
    /// The atom list of the last distribution message encoded here (`AtomCacheRefs`), emptied
    /// and kept for the next one: an array made and freed per message cost a tenth of a
    /// one-way send.
    var atomEntries: [AtomCacheRefs.Entry] = []

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Room for at least `needed` bytes, keeping the first `used`.
    func grow(to needed: Int, keeping used: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: used)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Back to the kept size after a big term.
    func shrinkIfBig() {
        guard capacity > Self.keptCapacity else { return }
        base.deallocate()
        capacity = 4096
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Runs `body` with this thread's buffer (or a fresh one when it is in use).
    static func withThreadBuffer<Result>(_ body: (EncodeBuffer) throws -> Result) rethrows -> Result {
        let buffer = perThread.value
        guard !buffer.inUse else { return try body(EncodeBuffer()) }
        buffer.inUse = true
        defer {
            buffer.inUse = false
            buffer.shrinkIfBig()
        }
        return try body(buffer)
    }

    private static let perThread = ThreadLocal { EncodeBuffer() }
}
