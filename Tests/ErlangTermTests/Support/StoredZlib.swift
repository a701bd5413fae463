/// A zlib stream of "stored" (uncompressed) deflate blocks around any bytes, so tests can make a
/// compressed term of any content, valid or not, without a compressor (RFC 1950 and 1951).
enum StoredZlib {
    static func wrap(_ data: [UInt8]) -> [UInt8] {
        var stream: [UInt8] = [0x78, 0x01]
        var chunks = stride(from: 0, to: data.count, by: 65_535).map { Array(data[$0..<min($0 + 65_535, data.count)]) }
        if chunks.isEmpty { chunks = [[]] }
        for (index, chunk) in chunks.enumerated() {
            let length = UInt16(chunk.count)
            stream.append(index == chunks.count - 1 ? 1 : 0)  // BFINAL, BTYPE 00
            stream += [UInt8(truncatingIfNeeded: length), UInt8(length >> 8),
                       UInt8(truncatingIfNeeded: ~length), UInt8(~length >> 8)]
            stream += chunk
        }
        return stream + be32(adler32(data))
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }

    /// A whole compressed term (version byte included) whose content is `content`.
    static func compressedTerm(_ content: [UInt8], declaring size: Int? = nil) -> [UInt8] {
        [131, 80] + be32(UInt32(size ?? content.count)) + wrap(content)
    }
}
