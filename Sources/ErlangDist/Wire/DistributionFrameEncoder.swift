import ErlangTerm
import NIOCore

/// Builds outgoing distribution frames: `Length:32, 131, 68, 0` (a header without atom cache
/// references), the control message and the payload; messages larger than `fragmentSize` are
/// split into `131, 69` / `131, 70` fragments so a big message does not delay ticks and small
/// messages on the same connection for long. Pure.
struct DistributionFrameEncoder {
    /// The BEAM's own fragment unit.
    static let defaultFragmentSize = 64 * 1024

    var fragmentSize: Int

    init(fragmentSize: Int = defaultFragmentSize) {
        self.fragmentSize = fragmentSize
    }

    /// One frame, or a run of fragment frames, holding `control` and `payload`.
    /// `nextSequence` gives fragment sequence ids, unique among a connection's open sequences;
    /// it is called only for messages that are fragmented.
    func encode(control: Term, payload: Term?, into buffer: inout ByteBuffer, nextSequence: () -> UInt64) {
        var encoder = TermEncoder(capacity: 128)
        // Room for the length prefix and header, filled in once the size is known.
        encoder.append(contentsOf: [0, 0, 0, 0, ExternalTermFormat.version, 68, 0])
        encoder.encode(control)
        let controlEnd = encoder.bytes.count
        if let payload { encoder.encode(payload) }
        var bytes = encoder.bytes
        let bodyCount = bytes.count - 7
        if bodyCount <= fragmentSize || controlEnd - 7 > fragmentSize {
            let length = UInt32(bytes.count - 4)
            bytes[0] = UInt8(length >> 24)
            bytes[1] = UInt8(truncatingIfNeeded: length >> 16)
            bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
            bytes[3] = UInt8(truncatingIfNeeded: length)
            buffer.writeBytes(bytes)
            return
        }
        let body = bytes[7...]
        let fragments = UInt64((bodyCount + fragmentSize - 1) / fragmentSize)
        let sequence = nextSequence()
        var start = body.startIndex
        for fragmentID in stride(from: fragments, through: 1, by: -1) {
            let end = min(start + fragmentSize, body.endIndex)
            let isFirst = fragmentID == fragments
            let headerSize = isFirst ? 19 : 18
            buffer.writeInteger(UInt32(headerSize + end - start))
            buffer.writeBytes([ExternalTermFormat.version, isFirst ? 69 : 70])
            buffer.writeInteger(sequence)
            buffer.writeInteger(fragmentID)
            if isFirst { buffer.writeInteger(UInt8(0)) }
            buffer.writeBytes(body[start..<end])
            start = end
        }
    }
}
