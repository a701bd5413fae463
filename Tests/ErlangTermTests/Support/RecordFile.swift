import Foundation

/// Files of length-prefixed records (a 32-bit big-endian length, then the bytes): how the tests
/// hand many encoded terms to Erlang and back (`<<Length:32, Record:Length/binary>>` in Erlang).
enum RecordFile {
    struct Malformed: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "record file is malformed at byte \(offset)" }
    }

    static func write(_ records: [[UInt8]], to url: URL) throws {
        var data = Data()
        for record in records {
            let count = UInt32(record.count)
            data.append(contentsOf: [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16),
                                     UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)])
            data.append(contentsOf: record)
        }
        try data.write(to: url)
    }

    static func read(from url: URL) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw Malformed(offset: offset) }
            let count = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard bytes.count - offset >= count else { throw Malformed(offset: offset) }
            records.append(Array(bytes[offset..<offset + count]))
            offset += count
        }
        return records
    }
}
