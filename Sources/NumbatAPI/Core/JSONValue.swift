import Foundation

/// Any JSON value, for the few fields whose shape is the user's or a node's (a Libcloud driver's keyword
/// arguments, an rpc's Erlang terms in their JSON form). Numbers keep whether they are
/// integers, as the drivers and Erlang care.
///
/// JSON itself does not tell `2` from `2.0`, so the rule is by value: a number whose value is a
/// whole number in `Int`'s range is an integer (`2`, `2.0`, `1e2`, and also
/// `2922337203685477580.507`, which no `Double` holds with its fraction: its nearest double is
/// the whole number 2922337203685477376), anything else a double. Decoding and encoding follow
/// the same rule, so a value survives a round trip unchanged: without it that last literal
/// decoded as a double, was written back as `2.9223372036854774e+18`, and read again as an
/// integer (found by StrictJSONFuzz).
public enum JSONValue: Codable, Sendable, Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = JSONValue(number: value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value):
            if let whole = Int(exactly: value) { try container.encode(whole) } else { try container.encode(value) }
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// A number by the rule above: an integer when its value is a whole number in `Int`'s range.
    public init(number: Double) {
        if let whole = Int(exactly: number) { self = .int(whole) } else { self = .double(number) }
    }

    /// The text a command-line `NAME=VALUE` means: numbers and booleans as such, else a string.
    public init(commandLine text: String) {
        if let number = Int(text) { self = .int(number) }
        else if text == "true" || text == "false" { self = .bool(text == "true") }
        else { self = .string(text) }
    }
}

extension JSONValue {
    /// The text of a string value, else nil.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value of an integer, else nil.
    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The fields of an object, else nil.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements of an array, else nil.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
