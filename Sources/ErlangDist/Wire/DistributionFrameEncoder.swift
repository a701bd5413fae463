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
        // The control message and the payload, encoded back to back, then copied once.
        Term.withEncodedBytes(control, then: payload) { body, controlSize in
            frame(body, controlSize: controlSize, into: &buffer, nextSequence: nextSequence)
        }
    }

    /// Frames `body`, an encoded control message (its first `controlSize` bytes) and payload.
    func frame(_ body: UnsafeRawBufferPointer, controlSize: Int, into buffer: inout ByteBuffer, nextSequence: () -> UInt64) {
        if body.count <= fragmentSize || controlSize > fragmentSize {
            buffer.reserveCapacity(minimumWritableBytes: 7 + body.count)
            buffer.writeInteger(UInt32(3 + body.count))
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(68))
            buffer.writeInteger(UInt8(0))
            buffer.writeBytes(body)
            return
        }
        let fragments = UInt64((body.count + fragmentSize - 1) / fragmentSize)
        let sequence = nextSequence()
        var start = 0
        for fragmentID in stride(from: fragments, through: 1, by: -1) {
            let end = min(start + fragmentSize, body.count)
            let isFirst = fragmentID == fragments
            let headerSize = isFirst ? 19 : 18
            buffer.writeInteger(UInt32(headerSize + end - start))
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(isFirst ? 69 : 70))
            buffer.writeInteger(sequence)
            buffer.writeInteger(fragmentID)
            if isFirst { buffer.writeInteger(UInt8(0)) }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: body[start..<end]))
            start = end
        }
    }
}
