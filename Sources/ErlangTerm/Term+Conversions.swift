import BigInt

/// Swift literals for terms. A string literal is a UTF-8 binary (as Elixir strings are); use
/// `.atom` for atoms and `Term.string(_:)` for Erlang charlists.
extension Term: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(booleanLiteral value: Bool) { self = .atom(value ? .true : .false) }
    public init(stringLiteral value: String) { self = .binary(Array(value.utf8)) }
    public init(arrayLiteral elements: Term...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (Term, Term)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension Term {
    /// A UTF-8 binary holding `string`.
    public init(_ string: String) { self = .binary(Array(string.utf8)) }
    public init(_ value: Int) { self = .integer(value) }
    public init(_ value: Double) { self = .float(value) }
    public init(_ value: Bool) { self = .atom(value ? .true : .false) }
    public init(_ atom: Atom) { self = .atom(atom) }
    public init(_ elements: [Term]) { self = .list(elements) }
    public init(_ pairs: [Term: Term]) { self = .map(pairs) }

    /// A shorthand for `.atom(Atom(name))`.
    public static func atom(_ name: String) -> Term { .atom(Atom(name)) }
}

extension Term {
    public var atomValue: Atom? {
        if case .atom(let atom) = self { return atom }
        return nil
    }

    /// The integer value if it fits in `Int`.
    public var intValue: Int? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The integer value of any size.
    public var bigIntValue: BigInt? {
        switch self {
        case .integer(let value): return BigInt(value)
        case .bigInteger(let value): return value
        default: return nil
        }
    }

    /// A number as a `Double`: floats and integers alike.
    public var doubleValue: Double? {
        switch self {
        case .float(let value): return value
        case .integer(let value): return Double(value)
        case .bigInteger(let value): return Double(value)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        switch self {
        case .atom(.true): return true
        case .atom(.false): return false
        default: return nil
        }
    }

    public var binaryValue: [UInt8]? {
        if case .binary(let bytes) = self { return bytes }
        return nil
    }

    public var tupleElements: [Term]? {
        if case .tuple(let elements) = self { return elements }
        return nil
    }

    /// The elements of a proper list.
    public var listElements: [Term]? {
        if case .list(let elements) = self { return elements }
        return nil
    }

    public var mapValue: [Term: Term]? {
        if case .map(let pairs) = self { return pairs }
        return nil
    }

    public var pidValue: Pid? {
        if case .pid(let pid) = self { return pid }
        return nil
    }

    public var referenceValue: Reference? {
        if case .reference(let ref) = self { return ref }
        return nil
    }

    /// Text from a UTF-8 binary, or from a charlist (a proper list of code points).
    public var stringValue: String? {
        switch self {
        case .binary(let bytes):
            return String(validating: bytes, as: UTF8.self)
        case .list(let elements):
            var scalars = String.UnicodeScalarView()
            for element in elements {
                guard case .integer(let code) = element, code >= 0, code <= UInt32.max,
                    let scalar = Unicode.Scalar(UInt32(code))
                else { return nil }
                scalars.append(scalar)
            }
            return String(scalars)
        default:
            return nil
        }
    }

    /// True for the atom `true`, `false` for everything else; for flags read from Erlang.
    public var isTrue: Bool { self == .atom(.true) }

    /// The element at `index` of a tuple, or nil.
    public subscript(element index: Int) -> Term? {
        guard case .tuple(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The value under `key` of a map, or of a proplist (`[{Key, Value}]`), or nil.
    public subscript(key: Term) -> Term? {
        switch self {
        case .map(let pairs):
            return pairs[key]
        case .list(let elements):
            for case .tuple(let pair) in elements where pair.count == 2 && pair[0] == key {
                return pair[1]
            }
            return nil
        default:
            return nil
        }
    }
}
