import Foundation
import Hummingbird
import NumbatCore
import NumbatServices

/// `/api/tokens`: admins create (the secret is in the answer, once), list and revoke tokens.
enum TokenRoutes {
    struct CreateRequest: StrictJSONBody {
        var name: String
        var role: APIToken.Role?
        static let allowedFields: Set<String> = ["name", "role"]
    }

    struct Created: ResponseEncodable {
        var token: APIToken
        /// Shown this once; only its hash is stored.
        var secret: String
    }

    struct TokenList: ResponseEncodable { var tokens: [APIToken] }

    static func addRoutes(to api: RouterGroup<NumbatRequestContext>, store: any TokenStore) {
        api.get("tokens") { _, context -> TokenList in
            try context.requireAdmin()
            return TokenList(tokens: try await store.tokens())
        }
        api.post("tokens") { request, context -> EditedResponse<Created> in
            try context.requireAdmin()
            let body = try await request.decodeStrict(as: CreateRequest.self, context: context)
            guard !body.name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw NumbatError.badRequest("invalid_field", "a token needs a name")
            }
            let (token, secret) = try await create(name: body.name, role: body.role ?? .viewer, in: store)
            return EditedResponse(status: .created, response: Created(token: token, secret: secret))
        }
        api.delete("tokens/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            guard try await store.deleteToken(id: id) else {
                throw NumbatError.notFound("token_not_found", "no token has id \(id.uuidString.lowercased())")
            }
            return .noContent
        }
    }

    static func create(name: String, role: APIToken.Role, in store: any TokenStore) async throws -> (APIToken, String) {
        let secret = APIToken.generateSecret()
        let token = APIToken(name: name, role: role)
        try await store.insertToken(token, secretHash: APIToken.hash(secret))
        return (token, secret)
    }
}

extension APIToken: ResponseEncodable {}
