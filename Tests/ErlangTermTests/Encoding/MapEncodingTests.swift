import ErlangTerm
import Testing

/// MAP_EXT: a pair count, then keys and values. The order of pairs is not part of the term:
/// OTP 25 sorts small maps in term order, OTP 26+ sorts atoms keys by atom index, hash maps
/// (over 32 keys) follow their hash, and `TermEncoder` follows Swift's `Dictionary`. So vectors
/// with more than one pair are checked by decoding, and encoding is checked up to pair order.
@Suite("Map encoding")
struct MapEncodingTests {
    static let vectors: [CodecVector] = [
        CodecVector("#{}", .map([:]), [116, 0, 0, 0, 0]),
        CodecVector("#{a => 1}", [.atom("a"): 1], [116, 0, 0, 0, 1] + atomBytes("a") + [97, 1]),
        CodecVector("#{[] => <<>>}", [.emptyList: .binary([])], [116, 0, 0, 0, 1, 106, 109, 0, 0, 0, 0]),
        CodecVector("#{#{} => #{}}", [.map([:]): .map([:])], [116, 0, 0, 0, 1, 116, 0, 0, 0, 0, 116, 0, 0, 0, 0]),
    ]

    @Test(arguments: vectors)
    func encodes(_ vector: CodecVector) { vector.expectEncodes() }

    @Test(arguments: vectors)
    func decodes(_ vector: CodecVector) { vector.expectDecodes() }

    /// `#{1 => a, b => 2}` as OTP 25 writes it (1 sorts before atoms), and the same map with its
    /// pairs the other way round, as OTP 28 may write it.
    static let multiPair: [CodecVector] = [
        CodecVector("#{1 => a, b => 2}", [1: .atom("a"), .atom("b"): 2],
                    [116, 0, 0, 0, 2, 97, 1] + atomBytes("a") + atomBytes("b") + [97, 2]),
        CodecVector("#{b => 2, 1 => a}", [1: .atom("a"), .atom("b"): 2],
                    [116, 0, 0, 0, 2] + atomBytes("b") + [97, 2, 97, 1] + atomBytes("a")),
        signedZeroKeys,
        CodecVector("#{\"é\" => é, <<\"é\">> => 1}", [.string("é"): .atom("é"), Term("é"): 1],
                    [116, 0, 0, 0, 2, 107, 0, 1, 233, 119, 2, 0xC3, 0xA9, 109, 0, 0, 0, 2, 0xC3, 0xA9, 97, 1]),
    ]

    static let signedZeroKeys = CodecVector(
        "#{0.0 => a, -0.0 => b}, two keys since OTP 27", [.float(0.0): .atom("a"), .float(-0.0): .atom("b")],
        [116, 0, 0, 0, 2, 70, 0, 0, 0, 0, 0, 0, 0, 0] + atomBytes("a") + [70, 0x80, 0, 0, 0, 0, 0, 0, 0] + atomBytes("b"))

    @Test(arguments: multiPair)
    func decodesMultiPair(_ vector: CodecVector) { vector.expectDecodes() }

    /// The encoding is the header and each pair's encoding, in some order.
    @Test(arguments: multiPair)
    func encodesMultiPairInSomeOrder(_ vector: CodecVector) throws {
        let pairs = try #require(vector.term.mapValue)
        let encoded = vector.term.encoded()
        #expect(encoded.count == vector.bytes.count + 1)
        #expect(Array(encoded.prefix(6)) == [131, 116] + be32(UInt32(pairs.count)))
        var rest = Array(encoded.dropFirst(6))
        for (key, value) in pairs {
            let pair = Array(key.encoded().dropFirst()) + Array(value.encoded().dropFirst())
            guard let start = (0...(rest.count - pair.count)).first(where: { Array(rest[$0..<$0 + pair.count]) == pair }) else {
                Issue.record("pair \(key) => \(value) not in the encoding")
                return
            }
            rest.removeSubrange(start..<start + pair.count)
        }
        #expect(rest.isEmpty)
    }

    /// A hash map (more than 32 keys) round-trips whatever its order.
    @Test func largeMapRoundTrips() throws {
        var pairs: [Term: Term] = [:]
        for index in 0..<1_000 { pairs[.integer(index)] = .string(String(index)) }
        let map = Term.map(pairs)
        #expect(try Term(decoding: map.encoded()) == map)
        #expect(map[.integer(999)] == .string("999"))
    }
}
