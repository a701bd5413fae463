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
    let fragmentSize: Int
    /// The channel's event loop as a task executor: work for this peer that prefers it runs
    /// beside the socket, with no thread hop per message (see `EventLoopTaskExecutor`).
    public let taskExecutor: EventLoopTaskExecutor

    init(peer: NodeName, peerCreation: UInt32, localName: Atom, flags: DistributionFlags, channel: any Channel, fragmentSize: Int) {
        self.peer = peer
        self.peerCreation = peerCreation
        self.localName = localName
        self.flags = flags
        self.channel = channel
        self.fragmentSize = fragmentSize
        self.taskExecutor = EventLoopTaskExecutor(channel.eventLoop)
        self.outgoing = NIOLockedValueBox(Outgoing(buffer: channel.allocator.buffer(capacity: 0)))
    }

    public var isActive: Bool { channel.isActive }

    /// Queues `message` for the peer. Messages sent from one thread arrive in order.
    ///
    /// Frames are encoded on the caller's thread (outside the lock) and copied into a shared
    /// buffer; one task on the event loop writes whatever has gathered with a single flush. A
    /// burst of sends thus costs one system call, not one each, as the BEAM's own port batching
    /// does.
    func send(_ message: ControlMessage) {
        let (control, payload) = message.encoded(flags: flags)
        let encoder = DistributionFrameEncoder(fragmentSize: fragmentSize)
        // Encoded outside the lock: the body refers to its atoms by their index in the
        // message's own list, so only the header, written under the lock in the order the
        // frames go out, depends on the cache the peer keeps.
        func frame(_ body: UnsafeRawBufferPointer, _ controlSize: Int, _ atoms: [AtomCacheRefs.Entry]) -> Bool {
            outgoing.withLockedValue { outgoing -> Bool in
                encoder.frame(body, controlSize: controlSize, atoms: atoms, cache: &outgoing.atomCache, into: &outgoing.buffer) {
                    defer { outgoing.fragmentSequence &+= 1 }
                    return outgoing.fragmentSequence
                }
                defer { outgoing.flushScheduled = true }
                return !outgoing.flushScheduled
            }
        }
        let scheduleFlush = flags.contains(.distHeaderAtomCache)
            ? Term.withEncodedBytesReferringToAtoms(control, then: payload) { frame($0, $1, $2) }
            : Term.withEncodedBytes(control, then: payload) { frame($0, $1, []) }
        if scheduleFlush {
            channel.eventLoop.execute { self.flushOutgoing() }
        }
    }

    /// Frames waiting for the event loop's next flush.
    private struct Outgoing {
        var buffer: ByteBuffer
        var flushScheduled = false
        /// Sequence ids of fragmented messages, unique among the connection's open ones.
        var fragmentSequence: UInt64 = 1
        /// The atoms the peer holds in its cache for this connection, as the headers sent so
        /// far put them there (`DistributionFrameEncoder.writeAtomCacheRefs`).
        var atomCache = OutgoingAtomCache()
    }

    private let outgoing: NIOLockedValueBox<Outgoing>

    private func flushOutgoing() {
        let ready = outgoing.withLockedValue { outgoing -> ByteBuffer in
            outgoing.flushScheduled = false
            let ready = outgoing.buffer
            outgoing.buffer = channel.allocator.buffer(capacity: 0)
            return ready
        }
        if ready.readableBytes > 0 { channel.writeAndFlush(ready, promise: nil) }
    }

    /// Closes the connection; the peer sees `nodedown`.
    func close() {
        channel.close(promise: nil)
    }
}
