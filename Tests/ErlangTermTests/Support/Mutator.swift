import NumbatTestSupport

/// Seeded byte-level mutations of valid encodings, for the in-process fuzz test: the kinds of
/// damage a network, a buggy peer or an attacker does to a term, biased towards the places a
/// decoder trusts (tags, length fields, the compressed header).
struct Mutator {
    var random: SeededRandom
    /// Valid encodings to mutate and to splice from.
    let seeds: [[UInt8]]

    init(seed: UInt64, seeds: [[UInt8]]) {
        random = SeededRandom(seed: seed)
        self.seeds = seeds
    }

    /// Tag bytes, version and compressed markers, and the boundaries of every length field.
    static let interestingBytes: [UInt8] = [
        0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFE, 0xFF, 70, 77, 80, 82, 88, 89, 90, 97, 98, 99, 100, 101, 102,
        103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 131,
    ]

    static let interestingLengths: [UInt32] = [
        0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF,
    ]

    /// A seed with one to four mutations applied.
    mutating func next() -> [UInt8] {
        var bytes = random.element(of: seeds)
        for _ in 0..<random.int(1...4) { mutate(&bytes) }
        return bytes
    }

    mutating func mutate(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else {
            bytes = random.bytes(random.int(1...8))
            return
        }
        // The version byte is worth breaking now and then, not one time in a few dozen.
        var position = random.int(0..<bytes.count)
        if position == 0, bytes.count > 1, !random.chance(1, in: 8) { position = random.int(1..<bytes.count) }
        switch random.int(0..<10) {
        case 0:
            bytes[position] ^= 1 << UInt8(random.int(0...7))
        case 1:
            bytes[position] = random.element(of: Self.interestingBytes)
        case 2:
            bytes[position] = UInt8.random(in: 0...255, using: &random)
        case 3:
            bytes.removeSubrange(random.int(0...bytes.count)...)
        case 4:
            // Splice: the head of this input, then the tail of another.
            let other = random.element(of: seeds)
            let cut = random.int(0...other.count)
            bytes = Array(bytes[..<position]) + other[cut...]
        case 5:
            // A 32-bit length field somewhere made absurd or off by one.
            guard bytes.count >= position + 4 else { return }
            let old = bytes[position..<position + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let value = random.chance(1, in: 2) ? random.element(of: Self.interestingLengths)
                : old &+ UInt32(bitPattern: Int32(random.int(-2...2)))
            for index in 0..<4 { bytes[position + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(index))) }
        case 6:
            // A 16-bit length (STRING_EXT, ATOM_EXT, reference word counts).
            guard bytes.count >= position + 2 else { return }
            let value = UInt16(truncatingIfNeeded: random.element(of: Self.interestingLengths))
            bytes[position] = UInt8(value >> 8)
            bytes[position + 1] = UInt8(truncatingIfNeeded: value)
        case 7:
            let count = random.int(1...16)
            bytes.insert(contentsOf: random.bytes(count), at: position)
        case 8:
            // Repeat a slice: nested headers, duplicated map keys, longer lists.
            let end = min(bytes.count, position + random.int(1...32))
            let slice = bytes[position..<end]
            bytes.insert(contentsOf: slice, at: random.int(0...bytes.count))
        default:
            let end = min(bytes.count, position + random.int(1...16))
            bytes.removeSubrange(position..<end)
        }
    }
}
