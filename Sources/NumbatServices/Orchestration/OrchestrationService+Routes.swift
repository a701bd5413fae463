import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore

/// `/api/orch/...`: providers, releases, family release/firewall/domains, deployment and node
/// actions (seed listings 5, 8, 9, 10), one file per resource. Changes need an admin token;
/// request bodies are NumbatAPI's strict types, so a misspelt field is a 400 naming it.
extension OrchestrationService {
    public func addRoutes(to api: RouterGroup<NumbatRequestContext>) {
        addProviderRoutes(to: api)
        addReleaseRoutes(to: api)
        addFamilyRoutes(to: api)
        addNodeRoutes(to: api)
        addUpgradeRoutes(to: api)
    }

    /// Decodes a body that `decodeStrict` cannot take (a JSON list, a larger upload limit) with
    /// the same 400s: the request types refuse unknown fields themselves.
    static func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                throw NumbatError.badRequest("invalid_json", data.isEmpty ? "the request needs a JSON body" : "the body is not valid JSON")
            case .keyNotFound(let key, let context):
                throw NumbatError.invalidField(Self.path(context.codingPath + [key]), "is required")
            case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
                throw NumbatError.invalidField(Self.path(context.codingPath), "must be \(type == String.self ? "a string" : type == Int.self ? "a number" : type == Bool.self ? "true or false" : "\(type)")")
            case .dataCorrupted(let context):
                throw NumbatError.invalidField(Self.path(context.codingPath), context.debugDescription)
            @unknown default:
                throw NumbatError.badRequest("invalid_json", "\(error)")
            }
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "\($0)" } ?? $0.stringValue }.joined(separator: ".")
    }
}

// The NumbatAPI types are the routes' bodies.
extension CreateProviderRequest: StrictJSONBody {}
extension SetFamilyReleaseRequest: StrictJSONBody {}
extension AddDomainRequest: StrictJSONBody {}
extension DeployRequest: StrictJSONBody {}
extension ProviderResponse: ResponseEncodable {}
extension ReleaseResponse: ResponseEncodable {}
extension DomainResponse: ResponseEncodable {}
extension FamilyPlanResponse: ResponseEncodable {}
extension DeployResponse: ResponseEncodable {}
extension DeployedNodeResponse: ResponseEncodable {}
extension ListResponse: ResponseEncodable {}
