import BigInt
import CompressNIO
import NIOCore

/// Encodes terms to the External Term Format the way `term_to_binary/1` of OTP 26+ does
/// (UTF-8 atoms, `NEW_PID_EXT`, `V4_PORT_EXT`, `NEWER_REFERENCE_EXT`, `STRING_EXT` for byte
/// lists), byte for byte except for the order of map pairs, which is Swift's `Dictionary`'s.
///
/// Terms are written by `TermWriter` into the thread's `EncodeBuffer`, then copied once to
/// where they go: `Term.encoded()`, a frame (`Term.withEncodedBytes(_:then:_:)`), or this type,
/// which is for callers that build a frame from pieces.
public struct TermEncoder: Sendable {
    /// Bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends `term` without a version byte (the form used inside distribution frames).
    public mutating func encode(_ term: Term) {
        term.withEncodedBytes { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes, for framing code that shares this buffer.
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }
    public mutating func append(contentsOf data: [UInt8]) { bytes.append(contentsOf: data) }

    // MARK: - Pieces

    /// The tuple header alone, for callers that stream a tuple's elements.
    public mutating func writeTupleHeader(arity: Int) {
        if arity < 256 {
            bytes.append(ExternalTermFormat.Tag.smallTuple)
            bytes.append(UInt8(arity))
        } else {
            bytes.append(ExternalTermFormat.Tag.largeTuple)
            write32(UInt32(arity))
        }
    }

    /// Writes `SMALL_ATOM_UTF8_EXT`, or `ATOM_UTF8_EXT` for names over 255 bytes.
    ///
    /// A name over `Atom.maxLength` characters, which no Erlang node can hold, is cut to its first
    /// 255 characters, so the output stays a term binary_to_term reads: written whole, it would
    /// be rejected, and past 65,535 bytes its length field would wrap and garble what follows.
    public mutating func writeAtom(_ atom: Atom) { encode(.atom(atom)) }

    public mutating func writePid(_ pid: Pid) { encode(.pid(pid)) }

    public mutating func writeReference(_ ref: Reference) { encode(.reference(ref)) }

    @inline(__always) public mutating func write32(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
}

extension Term {
    /// The term as `term_to_binary/1` gives it: the version byte, then the term.
    public func encoded() -> [UInt8] {
        withEncodedBytes { bytes in
            [UInt8](unsafeUninitializedCapacity: bytes.count + 1) { buffer, count in
                buffer[0] = ExternalTermFormat.version
                if let base = bytes.baseAddress, !bytes.isEmpty {
                    UnsafeMutableRawPointer(buffer.baseAddress! + 1).copyMemory(from: base, byteCount: bytes.count)
                }
                count = bytes.count + 1
            }
        }
    }

    /// Runs `body` with the bytes of `first` then `second` (no version bytes) back to back, and
    /// the size of `first`: a distribution frame's control message and payload, written
    /// together so that the frame is copied once into the connection's buffer.
    public static func withEncodedBytes<Result>(_ first: Term, then second: Term?, _ body: (UnsafeRawBufferPointer, Int) throws -> Result) rethrows -> Result {
        try EncodeBuffer.withThreadBuffer { buffer in
            var writer = TermWriter(buffer)
            writer.write(first)
            let firstSize = writer.written.count
            if let second { writer.write(second) }
            return try body(writer.written, firstSize)
        }
    }

    /// `withEncodedBytes(_:then:_:)` for a distribution message whose header lists atoms
    /// (`AtomCacheRefs`): every atom of up to 255 bytes is written as a reference, and `body`
    /// gets the atoms referred to, in index order, besides the bytes and the first's size.
    public static func withEncodedBytesReferringToAtoms<Result>(_ first: Term, then second: Term?,
                                                                _ body: (UnsafeRawBufferPointer, Int, [AtomCacheRefs.Entry]) throws -> Result) rethrows -> Result {
        try EncodeBuffer.withThreadBuffer { buffer in
            var writer = TermWriter(buffer, atomRefs: AtomCacheRefs(reusing: buffer.atomEntries))
            buffer.atomEntries = []
            writer.write(first)
            let firstSize = writer.written.count
            if let second { writer.write(second) }
            defer { buffer.atomEntries = writer.atomRefs!.emptied() }
            return try body(writer.written, firstSize, writer.atomRefs!.entries)
        }
    }

    /// Runs `body` with the term's bytes (no version byte), valid only during the call.
    public func withEncodedBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try EncodeBuffer.withThreadBuffer { buffer in
            var writer = TermWriter(buffer)
            writer.write(self)
            return try body(writer.written)
        }
    }

    /// The term as `term_to_binary(T, [compressed])` gives it (tag 80, zlib), unless compressing
    /// would not make it smaller, as the BEAM decides too.
    public func encodedCompressed() -> [UInt8] {
        let plain = withEncodedBytes { Array($0) }
        guard let deflated = try? Self.deflate(plain), deflated.count + 5 < plain.count else {
            return [ExternalTermFormat.version] + plain
        }
        var result: [UInt8] = [ExternalTermFormat.version, ExternalTermFormat.Tag.compressed]
        let size = UInt32(plain.count)
        result += [UInt8(size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                   UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        return result + deflated
    }

    private static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        let compressed = try buffer.compress(with: .zlib())
        return Array(compressed.readableBytesView)
    }
}
