import Foundation

/// A list answered as `{"items": [...]}` (providers, releases, deployed nodes, offerings).
public struct ListResponse<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]

    public init(items: [Item]) { self.items = items }
}

/// An image or machine size a provider offers (`GET /api/orch/providers/{id}/images`, `/sizes`).
public struct ProviderOfferingResponse: Codable, Sendable, Equatable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}
