/// A streaming reader of tar archives (POSIX ustar, with GNU long names and pax paths): fed
/// decompressed bytes as they come, it yields each entry's name, kind and size, and keeps the
/// contents only of entries the caller wants (bounded), so a release of any size is checked
/// in constant memory. Pure: no I/O.
struct TarStream {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    enum Kind: Equatable {
        case file, directory, symlink, other
    }

    struct Entry: Equatable {
        var name: String
        var kind: Kind
        var size: Int
        /// The bytes, when the entry was wanted and no bigger than `contentLimit`.
        var content: [UInt8]?
    }

    /// The largest entry whose content is kept.
    let contentLimit: Int
    /// The largest GNU long name or pax header (`L`, `x`) taken.
    let metaLimit: Int
    private let wants: (String) -> Bool

    private var buffer: [UInt8] = []
    private var current: (entry: Entry, remaining: Int, padding: Int, keep: Bool)?
    private var longName: String?
    private var paxPath: String?
    private var pendingMeta: (kind: UInt8, remaining: Int, padding: Int, bytes: [UInt8])?
    private(set) var ended = false

    init(contentLimit: Int = 1 << 20, metaLimit: Int = 65_536, wants: @escaping (String) -> Bool) {
        self.contentLimit = contentLimit
        self.metaLimit = metaLimit
        self.wants = wants
    }

    /// Bytes held between calls to `feed`: the unparsed rest of the input, a metadata entry
    /// being read, a wanted entry's content, the long name and pax path waiting for their
    /// entry. What makes reading constant-memory: this stays within `contentLimit`, three
    /// `metaLimit`s and a block, plus the bytes of the last `feed`.
    var heldBytes: Int {
        buffer.count + (pendingMeta?.bytes.count ?? 0) + (current?.entry.content?.count ?? 0)
            + (longName?.utf8.count ?? 0) + (paxPath?.utf8.count ?? 0)
    }

    /// Takes the next bytes of the archive, returning the entries they completed.
    mutating func feed<C: Collection>(_ bytes: C) throws -> [Entry] where C.Element == UInt8 {
        guard !ended else { return [] }
        buffer.append(contentsOf: bytes)
        var done: [Entry] = []
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while true {
            if var meta = pendingMeta {
                let take = min(meta.remaining + meta.padding, buffer.count - offset)
                let data = take > 0 ? buffer[offset..<offset + min(take, meta.remaining)] : []
                // A pax global header ("g") says nothing Numbat uses: skipped, not held, however big.
                if meta.kind != UInt8(ascii: "g") { meta.bytes += data }
                meta.remaining -= data.count
                meta.padding -= take - data.count
                offset += take
                pendingMeta = meta
                guard meta.remaining == 0, meta.padding == 0 else { return done }
                pendingMeta = nil
                try takeMeta(kind: meta.kind, bytes: meta.bytes)
                continue
            }
            if var file = current {
                let available = buffer.count - offset
                let dataPart = min(file.remaining, available)
                if file.keep { file.entry.content! += buffer[offset..<offset + dataPart] }
                file.remaining -= dataPart
                let padPart = min(file.padding, available - dataPart)
                file.padding -= padPart
                offset += dataPart + padPart
                current = file
                guard file.remaining == 0, file.padding == 0 else { return done }
                current = nil
                done.append(file.entry)
                continue
            }
            guard buffer.count - offset >= 512 else { return done }
            let header = Array(buffer[offset..<offset + 512])
            offset += 512
            if header.allSatisfy({ $0 == 0 }) {
                ended = true
                return done
            }
            try begin(header: header)
        }
    }

    /// Checks that the archive did not stop inside an entry.
    func finish() throws {
        if current != nil || pendingMeta != nil || (!ended && !buffer.isEmpty) {
            throw Failure(description: "the archive is truncated: it ends inside an entry")
        }
    }

    private mutating func begin(header: [UInt8]) throws {
        let stored = header[148..<156]
        guard let checksum = Self.octal(stored) else { throw Failure(description: "a tar header has no checksum: not a tar archive") }
        let sum = header.enumerated().reduce(0) { $0 + (148..<156 ~= $1.offset ? 32 : Int($1.element)) }
        guard sum == checksum else { throw Failure(description: "a tar header's checksum is wrong: the archive is damaged or not a tar archive") }
        guard let size = Self.size(header[124..<136]), size >= 0 else { throw Failure(description: "a tar header has a bad size") }
        let padding = (512 - size % 512) % 512
        let type = header[156]
        switch type {
        case UInt8(ascii: "L"), UInt8(ascii: "x"):
            guard size <= metaLimit else { throw Failure(description: "a tar name header is larger than \(metaLimit) bytes") }
            pendingMeta = (type, size, padding, [])
            return
        case UInt8(ascii: "g"):
            pendingMeta = (type, size, padding, [])
            return
        default:
            break
        }
        var name = Self.string(header[0..<100])
        if header[257..<262].elementsEqual("ustar".utf8) {
            let prefix = Self.string(header[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if let long = longName { name = long }
        if let path = paxPath { name = path }
        longName = nil
        paxPath = nil
        let kind: Kind
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = name.hasSuffix("/") ? .directory : .file
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "2"): kind = .symlink
        default: kind = .other
        }
        let normalized = try Self.normalize(name)
        let keep = kind == .file && size <= contentLimit && wants(normalized)
        let entry = Entry(name: normalized, kind: kind, size: size, content: keep ? [] : nil)
        let dataSize = kind == .directory || kind == .symlink ? 0 : size
        current = (entry, dataSize, dataSize == 0 ? 0 : padding, keep)
    }

    private mutating func takeMeta(kind: UInt8, bytes: [UInt8]) throws {
        if kind == UInt8(ascii: "L") {
            longName = Self.string(bytes[...])
        } else if kind == UInt8(ascii: "x") {
            // Records: "<length> key=value\n". A length too short for its own digits, space and
            // newline ends the records, as one past the end does.
            var rest = bytes[...]
            while let space = rest.firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
                  length > space - rest.startIndex + 1, length <= rest.count {
                let record = rest[rest.index(after: space)..<(rest.startIndex + length - 1)]
                if let equals = record.firstIndex(of: UInt8(ascii: "=")), String(decoding: record[..<equals], as: UTF8.self) == "path" {
                    paxPath = String(decoding: record[record.index(after: equals)...], as: UTF8.self)
                }
                rest = rest[(rest.startIndex + length)...]
            }
        }
    }

    /// `./a/b/` -> `a/b`; absolute names and `..` are refused, as they would unpack outside the
    /// node's directory.
    static func normalize(_ name: String) throws -> String {
        if name.hasPrefix("/") { throw Failure(description: "the archive has an absolute path (\(name.prefix(200))): refusing to unpack it") }
        let parts = name.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") { throw Failure(description: "the archive has a path that leaves its directory (\(name.prefix(200))): refusing to unpack it") }
        return parts.joined(separator: "/")
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int? {
        let digits = bytes.prefix { $0 != 0 && $0 != UInt8(ascii: " ") }.drop { $0 == UInt8(ascii: " ") }
        guard !digits.isEmpty else { return nil }
        return Int(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    /// Octal, or GNU base-256 for files of 8 GiB and more.
    static func size(_ bytes: ArraySlice<UInt8>) -> Int? {
        if let first = bytes.first, first & 0x80 != 0 {
            return bytes.dropFirst().reduce(Int(first & 0x7f)) { ($0 << 8) | Int($1) }
        }
        return octal(bytes) ?? (bytes.allSatisfy { $0 == 0 || $0 == 32 } ? 0 : nil)
    }
}
