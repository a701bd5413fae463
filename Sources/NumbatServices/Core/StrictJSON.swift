import Foundation
import Hummingbird
import NumbatCore

/// A request body that must be a JSON object with only the fields it names: a typo such as
/// `"discovr": true` is an error, not silently ignored.
public protocol StrictJSONBody: Decodable {
    static var allowedFields: Set<String> { get }
}

extension Request {
    /// Decodes the body as `T`, refusing malformed JSON, wrong types, missing and unknown fields
    /// with a 400 that names the field.
    public func decodeStrict<T: StrictJSONBody>(as type: T.Type, context: NumbatRequestContext) async throws -> T {
        let (object, data) = try await jsonObject(context: context)
        return try StrictJSON.decode(T.self, object: object, data: data, decoder: context.requestDecoder)
    }

    /// The body as a JSON object (and its bytes), refusing bodies over the upload limit (413)
    /// and anything that is not a JSON object (400).
    public func jsonObject(context: NumbatRequestContext) async throws -> ([String: Any], Data) {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch {
            throw NumbatError(.payloadTooLarge, "body_too_large", "the request body is larger than \(context.maxUploadSize) bytes")
        }
        let data = Data(buffer.readableBytesView)
        return (try StrictJSON.object(data), data)
    }
}

/// The pure part of strict body decoding, on bytes already collected: what `decodeStrict` does
/// once the body is in (and what the StrictJSONFuzz target drives).
public enum StrictJSON {
    /// `data` as a JSON object, or a 400.
    public static func object(_ data: Data) throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw NumbatError.badRequest("invalid_json", data.isEmpty ? "the request needs a JSON object body" : "the body is not a JSON object")
        }
        return object
    }

    /// Decodes `data` (whose JSON object is `object`) as `T`, refusing unknown fields, wrong
    /// types and missing fields with a 400 that names the field.
    public static func decode<T: StrictJSONBody>(_ type: T.Type, object: [String: Any], data: Data, decoder: JSONDecoder) throws -> T {
        let unknown = Set(object.keys).subtracting(T.allowedFields)
        guard unknown.isEmpty else {
            throw NumbatError.badRequest("unknown_field", "unknown field(s) \(unknown.sorted().joined(separator: ", ")); allowed: \(T.allowedFields.sorted().joined(separator: ", "))")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw NumbatError.badRequest("invalid_field", Self.describe(error))
        }
    }

    /// `object` then `decode`: a body's bytes to `T` or a 400.
    public static func decode<T: StrictJSONBody>(_ type: T.Type, from data: Data, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decode(T.self, object: try object(data), data: data, decoder: decoder)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? "the body" : "'\(keys)'"
        }
        switch error {
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .typeMismatch(let type, let context): return "\(path(context)) must be \(Self.name(of: type))"
        case .valueNotFound(let type, let context): return "\(path(context)) must be \(Self.name(of: type)), not null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type: "a number"
        default: "\(type)"
        }
    }
}
