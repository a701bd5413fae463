import ErlangTerm
@testable import ErlangDist
import NIOCore

/// The connected phase of a distribution connection fed fuzzed bytes: 4-byte-length-prefixed
/// frames (empty ones are ticks) through `DistributionFrameReceiver` (distribution header with
/// atom cache, fragment reassembly, pass-through) and `ControlMessage`, as the channel handler
/// drives them. The first byte sets the receiver's limits and whether stale fragments expire
/// (each frame arrives a second after the previous one). What must hold:
///
/// - Each frame gives a message, nil (a fragment of an incomplete message) or a
///   `malformedFrame` error; after an error the connection closes and nothing more is fed.
/// - Fragment buffering stays within its limits (`maxMessageSize` bytes, `maxOpenSequences`
///   messages), and its accounting is exact: with no message open nothing is counted, and
///   expiring everything leaves nothing counted.
/// - A decoded message re-encodes (`DistributionFrameEncoder`, fragmented into small pieces
///   too) to frames that a fresh receiver decodes to equal terms.
/// - A control message that `ControlMessage` accepts re-encodes (`encoded(flags:)`) to one it
///   decodes as equal.
/// - A second receiver fed the same frames, asked for every payload flat (`FlatTerm`, as for
///   `rpcFlat`'s replies), fails on the same frame or gives the same control and an equal payload.
enum FrameReceiverProperties {
    static let maxFrameSize = 64 << 20
    static let allFlags = DistributionFlags(rawValue: ~0)

    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let config = bytes.first else { return false }
        var receiver = config & 1 == 0
            ? DistributionFrameReceiver()
            : DistributionFrameReceiver(maxMessageSize: 1024, maxOpenSequences: 3)
        // The same frames, every payload decoded flat (as for `rpcFlat`'s replies).
        var flatReceiver = receiver
        let expires = config & 2 != 0
        var offset = 1
        var second: Int64 = 0
        var decoded = 0
        while bytes.count - offset >= 4 {
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= maxFrameSize else { break }
            guard bytes.count - offset - 4 >= length else { break }
            let frame = Array(bytes[offset + 4..<offset + 4 + length])
            offset += 4 + length
            guard length > 0 else { continue }
            second += 1
            let now = NIODeadline.uptimeNanoseconds(UInt64(second) * 1_000_000_000)
            let result = frame.withUnsafeBytes { raw in
                Result { () throws(DistributionError) in try receiver.receive(raw, now: now) }
            }
            let flatResult = frame.withUnsafeBytes { raw in
                Result { () throws(DistributionError) in try flatReceiver.receive(raw, now: now) { _ in true } }
            }
            let terms: (control: Term, payload: Term?)?
            switch result {
            case .success(let value): terms = value
            case .failure(let error):
                guard case .malformedFrame = error else { preconditionFailure("unexpected error \(error)") }
                precondition(!error.description.isEmpty)
                guard case .failure = flatResult else { preconditionFailure("a flat payload decodes where a Term does not: \(error)") }
                return decoded > 0
            }
            switch flatResult {
            case .success(let flat):
                precondition(flat?.control == terms?.control && flat?.flatPayload?.term == terms?.payload && flat?.payload == nil,
                             "flat \(String(describing: flat?.flatPayload?.term)), Term \(String(describing: terms?.payload))")
            case .failure(let error):
                preconditionFailure("a flat payload does not decode where a Term does: \(error)")
            }
            expectBounded(receiver)
            if expires {
                receiver.expireSequences(idleSince: now - .seconds(2))
                flatReceiver.expireSequences(idleSince: now - .seconds(2))
                expectBounded(receiver)
            }
            guard let (control, payload) = terms else { continue }
            decoded += 1
            expectReencodes(control, payload)
            expectControlMessage(control, payload)
        }
        var drained = receiver
        drained.expireSequences(idleSince: .distantFuture)
        precondition(drained.openSequences == 0 && drained.bufferedByteCount == 0,
                     "\(drained.bufferedByteCount) bytes counted after every message expired")
        return decoded > 0
    }

    static func expectBounded(_ receiver: DistributionFrameReceiver) {
        precondition(receiver.bufferedByteCount >= 0 && receiver.bufferedByteCount <= receiver.maxMessageSize,
                     "\(receiver.bufferedByteCount) bytes buffered")
        precondition(receiver.openSequences <= receiver.maxOpenSequences)
        precondition(receiver.openSequences > 0 || receiver.bufferedByteCount == 0,
                     "\(receiver.bufferedByteCount) bytes counted with no message open")
    }

    static func expectReencodes(_ control: Term, _ payload: Term?) {
        for fragmentSize in [DistributionFrameEncoder.defaultFragmentSize, 7] {
            var buffer = ByteBuffer()
            var sequence: UInt64 = 40
            DistributionFrameEncoder(fragmentSize: fragmentSize)
                .encode(control: control, payload: payload, into: &buffer) { sequence += 1; return sequence }
            var fresh = DistributionFrameReceiver()
            var result: (control: Term, payload: Term?)?
            while let length = buffer.readInteger(as: UInt32.self) {
                precondition(result == nil, "frames after the message was complete")
                let frame = buffer.readBytes(length: Int(length))!
                let decoded = frame.withUnsafeBytes { raw in
                    Result { () throws(DistributionError) in try fresh.receive(raw, now: .now()) }
                }
                switch decoded {
                case .success(let value): result = value
                case .failure(let error): preconditionFailure("re-encoded \(control) does not decode: \(error)")
                }
            }
            guard let result else { preconditionFailure("re-encoded \(control) did not complete") }
            precondition(result.control == control && result.payload == payload,
                         "\(control), \(String(describing: payload)) reads back as \(result.control), \(String(describing: result.payload))")
            precondition(fresh.openSequences == 0 && fresh.bufferedByteCount == 0)
        }
    }

    static func expectControlMessage(_ control: Term, _ payload: Term?) {
        let message: ControlMessage?
        do {
            message = try ControlMessage(control: control, payload: payload)
        } catch {
            guard case .malformedFrame = error else { preconditionFailure("unexpected error \(error)") }
            return
        }
        guard let message else { return }
        let (againControl, againPayload) = message.encoded(flags: allFlags)
        do {
            let again = try ControlMessage(control: againControl, payload: againPayload)
            precondition(again == message, "\(message) re-encodes as \(String(describing: again))")
        } catch {
            preconditionFailure("\(message) re-encodes to something refused: \(error)")
        }
    }
}
