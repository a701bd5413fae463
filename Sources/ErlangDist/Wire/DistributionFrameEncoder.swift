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
        // Sized first, then written straight into the connection's buffer: no intermediate copy.
        let controlSize = control.encodedSize
        let payloadSize = payload?.encodedSize ?? 0
        let bodyCount = controlSize + payloadSize
        if bodyCount <= fragmentSize || controlSize > fragmentSize {
            buffer.reserveCapacity(minimumWritableBytes: 7 + bodyCount)
            buffer.writeInteger(UInt32(3 + bodyCount))
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(68))
            buffer.writeInteger(UInt8(0))
            buffer.writeTerm(control, encodedSize: controlSize)
            if let payload { buffer.writeTerm(payload, encodedSize: payloadSize) }
            return
        }
        var body = ByteBuffer()
        body.reserveCapacity(bodyCount)
        body.writeTerm(control, encodedSize: controlSize)
        if let payload { body.writeTerm(payload, encodedSize: payloadSize) }
        let fragments = UInt64((bodyCount + fragmentSize - 1) / fragmentSize)
        let sequence = nextSequence()
        for fragmentID in stride(from: fragments, through: 1, by: -1) {
            let piece = body.readSlice(length: min(fragmentSize, body.readableBytes))!
            let isFirst = fragmentID == fragments
            let headerSize = isFirst ? 19 : 18
            buffer.writeInteger(UInt32(headerSize + piece.readableBytes))
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(isFirst ? 69 : 70))
            buffer.writeInteger(sequence)
            buffer.writeInteger(fragmentID)
            if isFirst { buffer.writeInteger(UInt8(0)) }
            buffer.writeImmutableBuffer(piece)
        }
    }
}
