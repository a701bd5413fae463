/// Packs bit fields most significant bit first, as Erlang's bit syntax does, for `TermParser`'s
/// `<<Value:Size>>` segments.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    /// Bits written so far; the last byte is full when this is a multiple of 8.
    private(set) var count = 0

    /// Appends the low `bits` (1...64) bits of `value`.
    mutating func append(_ value: UInt64, bits: Int) {
        if count % 8 == 0, bits == 8 {
            bytes.append(UInt8(truncatingIfNeeded: value))
            count += 8
            return
        }
        for shift in stride(from: bits - 1, through: 0, by: -1) {
            if count % 8 == 0 { bytes.append(0) }
            if (value >> UInt64(shift)) & 1 == 1 { bytes[bytes.count - 1] |= 0x80 >> UInt8(count % 8) }
            count += 1
        }
    }

    /// The bits written, as a binary or, when they do not fill the last byte, a bitstring.
    var term: Term {
        let partial = count % 8
        return Term.makeBitstring(bytes, bitsInLastByte: partial == 0 ? 8 : UInt8(partial))
    }
}
