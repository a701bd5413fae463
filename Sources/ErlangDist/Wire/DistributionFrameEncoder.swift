import ErlangTerm
import NIOCore

/// Builds outgoing distribution frames: `Length:32, 131, 68`, the header's atom cache references
/// (`writeAtomCacheRefs`), the control message and the payload; messages larger than `fragmentSize` are
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
    /// Atoms are written by name.
    ///
    /// This and the next are the whole message in one call, for the tests and the frame
    /// receiver's fuzzer; a connection (`NodeConnection.send`) encodes the body outside its
    /// lock and calls `frame` under it, since only the header depends on the peer's cache.
    func encode(control: Term, payload: Term?, into buffer: inout ByteBuffer, nextSequence: () -> UInt64) {
        // The control message and the payload, encoded back to back, then copied once.
        var none = OutgoingAtomCache()
        Term.withEncodedBytes(control, then: payload) { body, controlSize in
            frame(body, controlSize: controlSize, cache: &none, into: &buffer, nextSequence: nextSequence)
        }
    }

    /// Atoms are written as references the header lists (see `writeAtomCacheRefs`), `cache`
    /// being the peer's.
    func encode(control: Term, payload: Term?, cache: inout OutgoingAtomCache, into buffer: inout ByteBuffer, nextSequence: () -> UInt64) {
        Term.withEncodedBytesReferringToAtoms(control, then: payload) { body, controlSize, atoms in
            frame(body, controlSize: controlSize, atoms: atoms, cache: &cache, into: &buffer, nextSequence: nextSequence)
        }
    }

    /// Frames `body`, an encoded control message (its first `controlSize` bytes) and payload,
    /// whose `ATOM_CACHE_REF`s refer to `atoms` (see `AtomCacheRefs`): the header lists them,
    /// each by its slot in `cache`, the peer's copy of which it updates.
    func frame(_ body: UnsafeRawBufferPointer, controlSize: Int, atoms: [AtomCacheRefs.Entry] = [], cache: inout OutgoingAtomCache,
               into buffer: inout ByteBuffer, nextSequence: () -> UInt64) {
        if body.count <= fragmentSize || controlSize > fragmentSize {
            buffer.reserveCapacity(minimumWritableBytes: 7 + 2 * atoms.count + body.count)
            let start = buffer.writerIndex
            buffer.writeInteger(UInt32(0))  // the length, set below
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(68))
            Self.writeAtomCacheRefs(atoms, cache: &cache, into: &buffer)
            buffer.writeBytes(body)
            buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
            return
        }
        let fragments = UInt64((body.count + fragmentSize - 1) / fragmentSize)
        let sequence = nextSequence()
        var start = 0
        for fragmentID in stride(from: fragments, through: 1, by: -1) {
            let end = min(start + fragmentSize, body.count)
            let isFirst = fragmentID == fragments
            let frameStart = buffer.writerIndex
            buffer.writeInteger(UInt32(0))  // the length, set below
            buffer.writeInteger(ExternalTermFormat.version)
            buffer.writeInteger(UInt8(isFirst ? 69 : 70))
            buffer.writeInteger(sequence)
            buffer.writeInteger(fragmentID)
            // The first fragment's header lists the whole message's atoms.
            if isFirst { Self.writeAtomCacheRefs(atoms, cache: &cache, into: &buffer) }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: body[start..<end]))
            buffer.setInteger(UInt32(buffer.writerIndex - frameStart - 4), at: frameStart)
            start = end
        }
    }

    /// `NumberOfAtomCacheRefs`, the flag nibbles and the refs of `atoms` (at most 255, names of
    /// at most 255 bytes): each atom's slot is from its name's hash; an atom whose slot in
    /// `cache` holds another (or nothing) is a new entry, sent with its name, and put there.
    /// Flags: per ref a nibble (bit 3 `NewCacheEntryFlag`, bits 0-2 the slot's segment), the
    /// first ref's in the low half of the first byte; then a nibble whose bit 0 (`LongAtoms`)
    /// stays 0. Written in one piece: a `ByteBuffer` call per nibble and ref cost more than the
    /// rest of a one-way send.
    static func writeAtomCacheRefs(_ atoms: [AtomCacheRefs.Entry], cache: inout OutgoingAtomCache, into buffer: inout ByteBuffer) {
        precondition(atoms.count <= AtomCacheRefs.limit, "\(atoms.count) atom cache refs")
        guard !atoms.isEmpty else {
            buffer.writeInteger(UInt8(0))
            return
        }
        let flagBytes = atoms.count / 2 + 1
        // The entries read in place: a copy of each retained and released its atom.
        atoms.withUnsafeBufferPointer { entries in
            if let header = cache.repeatedHeader(for: entries) {
                buffer.writeBytes(header)
                return
            }
            // The most it takes: every ref new, with a name of up to 255 bytes.
            var bound = 1 + flagBytes
            for index in entries.indices { bound += 2 + entries[index].atom.name.utf8.count }
            var added = false
            let start = buffer.writerIndex
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                out[0] = UInt8(entries.count)
                for index in 0..<flagBytes { out[1 + index] = 0 }
                var written = 1 + flagBytes
                for index in entries.indices {
                    let slot = slot(hash: entries[index].hash)
                    let isNew = !cache.table.holds(entries[index].atom, at: slot)
                    added = added || isNew
                    out[1 + index / 2] |= (UInt8(slot >> 8) | (isNew ? 8 : 0)) << (4 * UInt8(index % 2))
                    out[written] = UInt8(truncatingIfNeeded: slot)
                    written += 1
                    if isNew {
                        var name = entries[index].atom.name
                        name.withUTF8 { utf8 in
                            precondition(utf8.count <= 255, "atom cache entries hold names of at most 255 bytes")
                            out[written] = UInt8(utf8.count)
                            UnsafeMutableRawBufferPointer(rebasing: out[(written + 1)...]).copyMemory(from: UnsafeRawBufferPointer(utf8))
                            written += 1 + utf8.count
                        }
                        cache.put(entries[index].atom, at: slot)
                    }
                }
                return written
            }
            if !added {
                buffer.withUnsafeReadableBytes { cache.keep(UnsafeRawBufferPointer(rebasing: $0[(start - buffer.readerIndex)...]), for: entries) }
            }
        }
    }

    /// An atom's cache slot (`0..<2048`) from its name's hash (`AtomCacheRefs.Entry.hash`).
    static func slot(hash: UInt32) -> UInt16 {
        UInt16(truncatingIfNeeded: hash ^ hash >> 16) & UInt16(AtomCacheSlots.count - 1)
    }
}
