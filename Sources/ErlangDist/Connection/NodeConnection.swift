import ErlangTerm
import NIOConcurrencyHelpers
import NIOCore

/// An established distribution connection to one peer node. Sending is safe from any thread;
/// frames are encoded on the caller's thread and written in order by the channel's event loop.
public final class NodeConnection: Sendable {
    public let peer: NodeName
    public let peerCreation: UInt32
    /// The name the local node presented to this peer (short or long, to match it).
    public let localName: Atom
    public let flags: DistributionFlags
    let channel: any Channel
    private let fragmentSequence = NIOLockedValueBox<UInt64>(1)
    let fragmentSize: Int

    init(peer: NodeName, peerCreation: UInt32, localName: Atom, flags: DistributionFlags, channel: any Channel, fragmentSize: Int) {
        self.peer = peer
        self.peerCreation = peerCreation
        self.localName = localName
        self.flags = flags
        self.channel = channel
        self.fragmentSize = fragmentSize
    }

    public var isActive: Bool { channel.isActive }

    /// Queues `message` for the peer. Messages sent from one thread arrive in order.
    func send(_ message: ControlMessage) {
        let (control, payload) = message.encoded(flags: flags)
        let encoder = DistributionFrameEncoder(fragmentSize: fragmentSize)
        var buffer = channel.allocator.buffer(capacity: 64)
        encoder.encode(control: control, payload: payload, into: &buffer) {
            fragmentSequence.withLockedValue { value in
                defer { value &+= 1 }
                return value
            }
        }
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Closes the connection; the peer sees `nodedown`.
    func close() {
        channel.close(promise: nil)
    }
}
