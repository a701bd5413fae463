import Foundation
import NumbatCore

/// `POST /api/orch/node_families/{id}/release`: the release the family deploys.
public struct SetFamilyReleaseRequest: Codable, Sendable, Equatable {
    public var release: UUID

    public static let allowedFields: Set<String> = ["release"]

    public init(release: UUID) { self.release = release }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.allowedFields, of: "a family's release")
        release = try decoder.container(keyedBy: CodingKeys.self).decodeID(.release, "a release id")
    }
}

extension KeyedDecodingContainer {
    /// A required id field, refused in words naming the field rather than Foundation's.
    public func decodeID(_ key: Key, _ what: String) throws -> UUID {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { throw NumbatError.invalidField(key.stringValue, "is required: \(what)") }
        guard let id = UUID(uuidString: text) else { throw NumbatError.invalidField(key.stringValue, "must be \(what), not '\(text.prefix(64))'") }
        return id
    }
}
