import ErlangTerm
import Testing

/// Nesting beyond `maxDepth` fails as `tooDeep`, at the header that goes one level too far, for
/// every kind of container; and a term at the limit decodes, compares, hashes, re-encodes and
/// describes on an ordinary 8 MB thread even in a debug build.
@Suite("Depth limit")
struct DepthLimitTests {
    /// One level of each container kind, wrapped around whatever follows it, and what closes it.
    static let levels: [(String, open: [UInt8], close: [UInt8])] = [
        ("tuple", [104, 1], []),
        ("large tuple", [105, 0, 0, 0, 1], []),
        ("list", [108, 0, 0, 0, 1], [106]),
        ("improper list tail", [108, 0, 0, 0, 1, 97, 1], []),
        ("map value", [116, 0, 0, 0, 1, 97, 1], []),
        ("map key", [116, 0, 0, 0, 1], [97, 1]),
        ("fun free variable", funHeader, []),
    ]

    /// A NEW_FUN_EXT with one free variable, minus that variable; `nest` fills in its size.
    static let funHeader: [UInt8] = [112] + be32(0) + [0] + [UInt8](repeating: 0, count: 16) + be32(0) + be32(1)
        + [119, 1, 109, 97, 0, 97, 0] + [88, 119, 1, 110] + be32(0) + be32(0) + be32(0)

    /// `depth` levels of `open` around `[]`, closed by `close`, with fun sizes made consistent;
    /// built in linear time, for bombs of 100,000 levels.
    static func nest(_ open: [UInt8], _ close: [UInt8], depth: Int) -> [UInt8] {
        var headers: [[UInt8]] = []
        var inner = 1  // bytes inside the current level: `[]` at first
        for _ in 0..<depth {
            var header = open
            if open.first == 112 {
                // A fun's size counts itself and everything after its tag.
                header.replaceSubrange(1..<5, with: be32(UInt32(open.count - 1 + inner + close.count)))
            }
            headers.append(header)
            inner += open.count + close.count
        }
        var body: [UInt8] = []
        body.reserveCapacity(inner)
        for header in headers.reversed() { body += header }
        body.append(106)
        for _ in 0..<depth { body += close }
        return body
    }

    static let kinds = levels.map(\.0)

    @Test(arguments: kinds)
    func limitIsExact(_ kind: String) throws {
        let level = try #require(Self.levels.first { $0.0 == kind })
        let decoder = TermDecoder(maxDepth: 10)
        let atLimit = Self.nest(level.open, level.close, depth: 10)
        let result = decodeBody(atLimit, decoder: decoder)
        #expect((try? result.get()) != nil, "\(kind): 10 levels: \(result)")
        let beyond = Self.nest(level.open, level.close, depth: 11)
        let failure = decodeBody(beyond, decoder: decoder)
        guard case .failure(let error) = failure else {
            Issue.record("\(kind): 11 levels decode")
            return
        }
        #expect(error.kind == .tooDeep(limit: 10), "\(kind): \(error)")
        // The 11th header ends past ten nested openings (plus the version byte).
        #expect(error.offset >= 1 + 10 * level.open.count && error.offset <= 1 + 11 * level.open.count, "\(kind): \(error)")
    }

    /// A depth bomb far beyond the default limit fails quickly and without exhausting the stack.
    @Test(arguments: kinds)
    func bombStopsAtTheDefaultLimit(_ kind: String) async throws {
        let level = try #require(Self.levels.first { $0.0 == kind })
        let bomb = Self.nest(level.open, level.close, depth: kind.hasPrefix("fun") ? 3_000 : 100_000)
        let result = try await onThread(stackSize: 8 << 20) { decodeBody(bomb) }
        guard case .failure(let error) = result else {
            Issue.record("\(kind): the bomb decodes")
            return
        }
        #expect(error.kind == .tooDeep(limit: 2_000), "\(kind): \(error)")
    }

    /// A term nested to the default limit survives every recursive operation on an 8 MB thread
    /// (Linux's default) in a debug build, where frames are largest.
    @Test(arguments: ["tuple", "list", "map value"])
    func termAtTheDefaultLimitIsUsable(_ kind: String) async throws {
        let level = try #require(Self.levels.first { $0.0 == kind })
        let body = Self.nest(level.open, level.close, depth: 2_000)
        let ok = try await onThread(stackSize: 8 << 20) { () -> Bool in
            guard let term = try? decodeBody(body).get(), let copy = try? decodeBody(body).get() else { return false }
            return term == copy && term.hashValue == copy.hashValue && Array(term.encoded().dropFirst()) == body
                && term.erlangDescription.contains("...")
        }
        #expect(ok)
    }

    /// EXPORT_EXT's arity is read without recursing, so exports nested in each other's arity
    /// fail at once instead of recursing past the depth limit.
    @Test func exportChainDoesNotRecurse() {
        let link: [UInt8] = [113, 119, 1, 109, 119, 1, 102]
        let chain = [UInt8]((0..<100_000).flatMap { _ in link }) + [97, 1]
        #expect(decodeBody(chain) == .failure(TermDecodingError(.invalidValue("export arity"), at: 1)))
    }
}
