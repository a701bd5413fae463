import CompressNIO
import Crypto
import Foundation
import NIOCore
@testable import NumbatServices

/// The release upload check: `TarStream` (ustar, GNU long names, pax paths) and
/// `ReleaseArchive.inspect` (gzip, then tar, then what a release must hold) fed fuzzed bytes.
/// The first byte picks the mode (bits 0-1), how the bytes are cut into chunks (bits 2-4),
/// whether the tar headers' checksums are fixed up (bit 6) and the template asked for (bit 7):
///
/// - mode 0: the rest is a tar stream, fed to `TarStream` whole and in chunks;
/// - mode 1: the rest is a tar stream, gzip'd here and inspected as an upload;
/// - mode 2: the rest is the upload itself (damaged gzip, truncation, trailing bytes).
///
/// What must hold:
///
/// - The tar reader returns entries or its own `Failure`; the entries and the outcome do not
///   depend on how the bytes were cut; a name is normalized (no empty, `.` or `..` part, not
///   absolute); content is kept only for wanted files no larger than the limit, and then is
///   exactly the entry's size.
/// - Inspection returns an `Inspection` or a `ReleaseArchive.Failure` with a message, the same
///   one whatever the chunking (for a damaged upload, the failure's message may name another
///   damage) (the first chunk has at least the 2 bytes of gzip's magic, as reading a file
///   gives); a success reports the upload's true size and SHA-256, as many entries as the tar
///   reader finds in the plain archive (mode 1), the release's name and version from its
///   `releases/<vsn>/<name>.rel`, and the templates' texts.
/// - Memory stays bounded: between chunks the tar reader holds no more than its content limit,
///   three metadata limits, a block and the last chunk (`heldBytes`; the limits are made small
///   here so that a few KB of input can exceed them), and libFuzzer's -malloc_limit_mb /
///   -rss_limit_mb hold for the whole inspection.
enum ReleaseArchiveProperties {
    static let chunkSizes = [1, 3, 64, 511, 512, 513, 4096, 65536]
    static let template = "releases/1.0/vm.args"

    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let config = bytes.first else { return false }
        var rest = Array(bytes.dropFirst())
        let chunk = chunkSizes[Int(config >> 2 & 7) % chunkSizes.count]
        let templates = config & 0x80 != 0 ? [template] : []
        if config & 0x40 != 0, config & 3 != 2 { fixChecksums(&rest) }
        switch config & 3 {
        case 0:
            return tar(rest, chunk: chunk) != nil
        case 1:
            let entries = tar(rest, chunk: chunk)
            var input = ByteBuffer(bytes: rest)
            let compressed: [UInt8]
            do {
                compressed = Array((try input.compress(with: .gzip())).readableBytesView)
            } catch {
                preconditionFailure("gzip failed: \(error)")
            }
            return inspect(compressed, chunk: chunk, templates: templates, tarEntries: entries)
        default:
            return inspect(rest, chunk: chunk, templates: templates, tarEntries: nil)
        }
    }

    /// Rewrites the checksum of every header, walking the archive as a reader does (header,
    /// then its data blocks), so that mutations of names, sizes and types are read instead of
    /// all failing the checksum (config bit 0x40; without it, checksums are left as mutated).
    static func fixChecksums(_ bytes: inout [UInt8]) {
        var offset = 0
        while bytes.count - offset >= 512 {
            if bytes[offset..<offset + 512].allSatisfy({ $0 == 0 }) { return }
            var sum = 0
            for index in 0..<512 { sum += (148..<156).contains(index) ? 32 : Int(bytes[offset + index]) }
            let digits = Array(String(sum, radix: 8).utf8)
            bytes.replaceSubrange(offset + 148..<offset + 156,
                                  with: Array(repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, 32])
            let size = max(0, TarStream.size(bytes[offset + 124..<offset + 136]) ?? 0)
            let type = bytes[offset + 156]
            let dataSize = type == UInt8(ascii: "5") || type == UInt8(ascii: "2") ? 0 : min(size, bytes.count)
            offset += 512 + (dataSize + 511) / 512 * 512
        }
    }

    /// `bytes` through a `TarStream` in chunks of `chunk` bytes and whole: the entries (nil for
    /// a failure or an archive that does not end), checked to agree.
    static func tar(_ bytes: [UInt8], chunk: Int) -> [TarStream.Entry]? {
        let wants = { (name: String) in name.hasSuffix(".rel") || name == template }
        func run(_ chunk: Int) -> (entries: [TarStream.Entry], outcome: String) {
            var stream = TarStream(contentLimit: 100, metaLimit: 300, wants: wants)
            var entries: [TarStream.Entry] = []
            var offset = 0
            do {
                while offset < bytes.count {
                    let piece = bytes[offset..<min(bytes.count, offset + chunk)]
                    entries += try stream.feed(piece)
                    offset += chunk
                    precondition(stream.heldBytes <= 100 + 3 * 300 + 512 + piece.count,
                                 "the tar reader holds \(stream.heldBytes) bytes after \(offset)")
                }
                try stream.finish()
                return (entries, stream.ended ? "ended" : "open")
            } catch let error as TarStream.Failure {
                precondition(!error.description.isEmpty)
                return (entries, "failed: \(error.description)")
            } catch {
                preconditionFailure("the tar reader threw \(error)")
            }
        }
        let whole = run(max(bytes.count, 1))
        let cut = run(chunk)
        precondition(cut.outcome == whole.outcome, "chunks of \(chunk): \(cut.outcome); whole: \(whole.outcome)")
        // After a failure, the chunked run has the entries completed by earlier chunks; the
        // whole run, none (the failing `feed` returns nothing).
        if !whole.outcome.hasPrefix("failed") {
            precondition(cut.entries == whole.entries, "chunks of \(chunk) give other entries")
        }
        for entry in whole.entries + cut.entries {
            precondition(!entry.name.hasPrefix("/") && !entry.name.hasSuffix("/"), "name \(entry.name)")
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            precondition(entry.name.isEmpty || parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }, "name \(entry.name)")
            precondition(entry.size >= 0)
            if let content = entry.content {
                precondition(entry.kind == .file && wants(entry.name) && entry.size <= 100 && content.count == entry.size,
                             "kept \(content.count) bytes of \(entry.name) (\(entry.size))")
            } else {
                precondition(entry.kind != .file || !wants(entry.name) || entry.size > 100, "dropped the content of \(entry.name)")
            }
        }
        return whole.outcome == "ended" ? whole.entries : nil
    }

    /// `upload` through `ReleaseArchive.inspect`, read in chunks of `chunk` bytes and of 64 KiB.
    static func inspect(_ upload: [UInt8], chunk: Int, templates: [String], tarEntries: [TarStream.Entry]?) -> Bool {
        func run(_ chunk: Int) -> Result<ReleaseArchive.Inspection, ReleaseArchive.Failure> {
            var offset = 0
            do {
                let inspection = try ReleaseArchive.inspect(templates: templates) {
                    // The first read has gzip's magic whole, as a file's first read does.
                    let size = offset == 0 ? max(chunk, 2) : chunk
                    defer { offset = min(upload.count, offset + size) }
                    return Data(upload[offset..<min(upload.count, offset + size)])
                }
                return .success(inspection)
            } catch let failure as ReleaseArchive.Failure {
                precondition(!failure.description.isEmpty)
                return .failure(failure)
            } catch {
                preconditionFailure("inspection threw \(error)")
            }
        }
        let cut = run(chunk)
        let whole = run(65536)
        switch (cut, whole) {
        case (.failure, .failure):
            // Which damage is noticed first may depend on how far the stream was read (a tar
            // header inflated from an early chunk, or zlib's check of a later one): both refuse.
            return false
        case (.success(let a), .success(let b)):
            precondition(a.name == b.name && a.version == b.version && a.includesERTS == b.includesERTS
                         && a.templates == b.templates && a.entries == b.entries && a.size == b.size && a.sha256 == b.sha256)
            precondition(a.size == upload.count)
            precondition(a.sha256 == SHA256.hash(data: upload).map { String(format: "%02x", $0) }.joined())
            precondition(!a.name.isEmpty && !a.version.isEmpty && !a.version.contains("/") && !a.name.contains("/"))
            precondition(Set(a.templates.keys) == Set(templates))
            if let tarEntries {
                precondition(a.entries == tarEntries.count, "\(a.entries) entries inspected, \(tarEntries.count) in the tar")
                precondition(tarEntries.contains { $0.name == "releases/\(a.version)/\(a.name).rel" })
            }
            return true
        case (let a, let b):
            preconditionFailure("chunks of \(chunk): \(a); 64 KiB: \(b)")
        }
    }
}
