import CompressNIO
import NIOCore

/// Inflates a gzip file handed over in chunks of any size, and checks the whole file as
/// `tar -xzf` on a deployment host will: every member to its end (zlib checks each member's
/// CRC and length there), members one after another, then nothing but zero bytes. A file that
/// is truncated, damaged anywhere, or goes on with other bytes after its last member is
/// refused, however it was chunked: GNU tar stops with an error on each of these, so an upload
/// accepted here would fail only later, on the host.
///
/// Found by ReleaseArchiveFuzz: the inspection stopped inflating once the tar archive ended,
/// so read in small chunks a release whose gzip trailer (CRC) was damaged was accepted, and
/// read in 64 KiB chunks the same file was refused.
struct GzipStream {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private enum State {
        /// Inside a member.
        case member
        /// A member has ended: what follows is another member, zero padding, or the end.
        case between
        /// Zero padding after the last member; only zeros may follow.
        case padding
    }

    private let inflater: ZlibDecompressor
    private var state = State.member
    /// Input not yet taken: at most one byte, a next member's magic cut by a chunk boundary.
    private var pending = ByteBuffer()
    private var output = ByteBuffer()

    init() throws {
        do { inflater = try ZlibDecompressor(algorithm: .gzip) } catch { throw Failure(description: "zlib is unavailable: \(error)") }
        output.reserveCapacity(256 * 1024)
    }

    /// Inflates `chunk`, handing what it inflates to `consume` (piece by piece, each at most
    /// 256 KiB; the buffer is reused after `consume` returns).
    mutating func feed(_ chunk: some Collection<UInt8>, consume: (ByteBufferView) throws -> Void) throws {
        pending.writeBytes(chunk)
        while pending.readableBytes > 0 {
            switch state {
            case .padding:
                guard pending.readableBytesView.allSatisfy({ $0 == 0 }) else { throw Self.trailing }
                pending.clear()
            case .between:
                let view = pending.readableBytesView
                if view.first == 0 {
                    state = .padding
                } else if view.first == 0x1f {
                    // Another member; its magic may be cut by the chunk boundary.
                    guard view.count >= 2 else { return }
                    guard view[view.startIndex + 1] == 0x8b else { throw Self.trailing }
                    do { try inflater.reset() } catch { throw Failure(description: "zlib failed: \(error)") }
                    state = .member
                } else {
                    throw Self.trailing
                }
            case .member:
                let before = pending.readerIndex
                output.clear()
                do {
                    try inflater.inflate(from: &pending, to: &output)
                } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                    // Output full, or input used up: both mean "go on".
                } catch {
                    throw Failure(description: "the archive's gzip data is damaged (\(error))")
                }
                // zlib takes nothing more once a member has ended (checked) and says so, with
                // no progress: CompressNIO does not pass Z_STREAM_END on otherwise.
                if pending.readerIndex == before, output.readableBytes == 0 {
                    state = .between
                } else {
                    try consume(output.readableBytesView)
                }
            }
        }
        pending.discardReadBytes()
    }

    /// The file has ended: its last member must be complete.
    mutating func finish() throws {
        switch state {
        case .padding:
            return
        case .between:
            // A lone 0x1f held back: the start of a member that never came.
            guard pending.readableBytes == 0 else { throw Self.truncated }
        case .member:
            // Whether the member ended with the input's last byte: an ended stream takes no
            // further input (as above), one that has not ended takes (or refuses) this byte.
            var probe = ByteBuffer(bytes: [0])
            output.clear()
            do { try inflater.inflate(from: &probe, to: &output) } catch { throw Self.truncated }
            guard probe.readerIndex == 0, output.readableBytes == 0 else { throw Self.truncated }
            state = .between
        }
    }

    private static let truncated = Failure(description: "the archive is truncated: its gzip stream ends early")
    private static let trailing = Failure(description: "the archive goes on after its gzip stream with other data (`tar -xzf` refuses such a file)")
}
