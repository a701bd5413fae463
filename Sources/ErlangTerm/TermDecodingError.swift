/// Why bytes could not be decoded as a term; `offset` is where in the input the problem is.
public struct TermDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case truncated
        case badVersion(UInt8)
        case unknownTag(UInt8)
        case invalidAtom
        case invalidValue(String)
        case tooDeep(limit: Int)
        case tooLarge(String)
        case trailingBytes(Int)
        case unsupported(String)
    }

    public let kind: Kind
    public let offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch kind {
        case .truncated: what = "input ends in the middle of a term"
        case .badVersion(let byte): what = "expected version byte 131, found \(byte)"
        case .unknownTag(let tag): what = "unknown term tag \(tag)"
        case .invalidAtom: what = "atom text is not valid"
        case .invalidValue(let detail): what = detail
        case .tooDeep(let limit): what = "term nested deeper than \(limit) levels"
        case .tooLarge(let detail): what = detail
        case .trailingBytes(let count): what = "\(count) bytes left after the term"
        case .unsupported(let detail): what = detail
        }
        return "malformed Erlang term at byte \(offset): \(what)"
    }
}
