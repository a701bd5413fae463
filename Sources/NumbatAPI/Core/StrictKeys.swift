import Foundation
import NumbatCore

/// A coding key for any field name: how request types see every key the client sent.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

extension Decoder {
    /// Refuses a JSON object with a field outside `allowed`, naming it: request types call this
    /// first, so a misspelt field is a 400 rather than silently ignored, in nested objects too.
    /// `what` says whose fields they are ("a physical provider").
    public func rejectUnknownFields(_ allowed: Set<String>, of what: String) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let path = codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.filter { !$0.isEmpty }
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        guard let first = unknown.first else { return }
        let field = (path + [first]).joined(separator: ".")
        throw NumbatError.badRequest("unknown_field", "unknown field '\(field)' for \(what)\(unknown.count > 1 ? " (and \(unknown.dropFirst().joined(separator: ", ")))" : ""); allowed: \(allowed.sorted().joined(separator: ", "))")
    }
}

extension KeyedDecodingContainer {
    /// A string field where "" means absent, as the CLI and forms send empty options.
    public func decodeText(_ key: Key) throws -> String? {
        try decodeIfPresent(String.self, forKey: key).flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension NumbatError {
    /// A field's value is refused: 400 `invalid_field`, naming it.
    public static func invalidField(_ field: String, _ message: String) -> NumbatError {
        .badRequest("invalid_field", "'\(field)' \(message)")
    }
}
