import Foundation
import NumbatAPI
import Testing
@testable import NumbatServices

/// Inputs the fuzz targets (Fuzz/, docs/reliability.md) found to break a property, replayed
/// against the fixed code in the normal test suite.
@Suite("fuzz findings")
struct FuzzFindingsTests {
    /// A ustar header block for `name` of `size` bytes and type `type`, with its checksum.
    static func tarHeader(_ name: String, size: Int, type: Character) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        header.replaceSubrange(0..<name.utf8.count, with: Array(name.utf8))
        header.replaceSubrange(100..<108, with: Array("0000644\0".utf8))
        header.replaceSubrange(124..<136, with: Array((String(repeating: "0", count: 11 - String(size, radix: 8).count) + String(size, radix: 8) + "\0").utf8))
        header[156] = type.asciiValue!
        header.replaceSubrange(257..<265, with: Array("ustar\000".utf8))
        let sum = header.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        let digits = String(sum, radix: 8)
        header.replaceSubrange(148..<156, with: Array((String(repeating: "0", count: 6 - digits.count) + digits + "\0 ").utf8))
        return header
    }

    /// ReleaseArchiveFuzz: a pax record whose length is shorter than its own "<length> " prefix
    /// ("2 x\n") made TarStream build a backwards range and trap, taking the server down with
    /// an uploaded release. Such a record now ends the pax records, as a length past the end does.
    @Test("a pax record too short for its own length prefix is ignored, not a trap")
    func shortPaxRecord() throws {
        let record = Array("2 x\n".utf8)
        let archive = Self.tarHeader("pax", size: record.count, type: "x") + record + [UInt8](repeating: 0, count: 512 - record.count)
            + Self.tarHeader("releases/1.0/a.rel", size: 0, type: "0") + [UInt8](repeating: 0, count: 512)
        var stream = TarStream { _ in true }
        let entries = try stream.feed(archive)
        try stream.finish()
        #expect(entries == [TarStream.Entry(name: "releases/1.0/a.rel", kind: .file, size: 0, content: [])])
        #expect(stream.ended)
    }

    /// Read while fuzzing: a pax global header's body was held whole, whatever its size (the
    /// other metadata entries are bounded by `metaLimit`). It is skipped as it streams past.
    @Test("a pax global header is skipped without being held")
    func bigGlobalHeader() throws {
        let size = 4 << 20
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: size)
        var stream = TarStream(metaLimit: 1024) { _ in true }
        var entries = try stream.feed(Self.tarHeader("pax_global_header", size: size, type: "g"))
        var held = 0
        for start in stride(from: 0, to: size, by: 64 << 10) {
            entries += try stream.feed(body[start..<min(start + (64 << 10), size)])
            held = max(held, stream.heldBytes)
        }
        entries += try stream.feed(Self.tarHeader("releases/1.0/a.rel", size: 0, type: "0") + [UInt8](repeating: 0, count: 1024))
        try stream.finish()
        #expect(held < 2 * (64 << 10), "held \(held) bytes of a \(size)-byte global header")
        #expect(entries == [TarStream.Entry(name: "releases/1.0/a.rel", kind: .file, size: 0, content: [])])
    }

    /// StrictJSONFuzz: `2922337203685477580.507` in an rpc's arguments decoded as a double (its
    /// text is not a whole number), was written back as `2.9223372036854774e+18` (whose text is)
    /// and so read again as an integer: a value the CLI sent back changed type. Numbers are now
    /// integers by value on both sides (`JSONValue`).
    @Test("a JSON number survives a round trip whatever its notation")
    func numberRoundTrip() throws {
        let cases: [(String, JSONValue)] = [
            ("2922337203685477580.507", .int(2_922_337_203_685_477_376)),
            ("2.9223372036854774e+18", .int(2_922_337_203_685_477_400)),
            ("9223372036854775807", .int(.max)),
            ("9223372036854775808", .double(9_223_372_036_854_775_808)),
            ("2.0", .int(2)), ("1e2", .int(100)), ("-0.0", .int(0)),
            ("2.5", .double(2.5)), ("1e300", .double(1e300)), ("-1.5e-3", .double(-0.0015)),
        ]
        for (text, expected) in cases {
            let request = try StrictJSON.decode(RPCRequest.self, from: Data(#"{"module": "m", "function": "f", "args": [\#(text)]}"#.utf8))
            #expect(request.args == [expected], "\(text)")
            let encoded = try JSONEncoder().encode(request)
            let again = try StrictJSON.decode(RPCRequest.self, from: encoded)
            #expect(again == request, "\(text) re-encoded as \(String(decoding: encoded, as: UTF8.self))")
        }
        // A double built in code (not decoded) that holds a whole number is sent as that integer.
        let built = try JSONEncoder().encode([JSONValue.double(2.9223372036854774e18), .double(4)])
        #expect(String(decoding: built, as: UTF8.self) == "[2922337203685477376,4]")
    }
}
