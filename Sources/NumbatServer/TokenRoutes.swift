import Foundation
import Hummingbird
import NumbatAPI
import NumbatCore
import NumbatServices

/// `/api/tokens`: admins create (the secret is in the answer, once), list and revoke tokens.
/// Bodies and answers are NumbatAPI's types, the ones `numbat token` sends and reads.
enum TokenRoutes {
    static func addRoutes(to api: RouterGroup<NumbatRequestContext>, store: any TokenStore) {
        api.get("tokens") { _, context -> TokenListResponse in
            try context.requireAdmin()
            return TokenListResponse(tokens: try await store.tokens())
        }
        api.post("tokens") { request, context -> EditedResponse<CreatedTokenResponse> in
            try context.requireAdmin()
            let body = try await request.decodeStrict(as: CreateTokenRequest.self, context: context)
            guard !body.name.isBlank else {
                throw NumbatError.badRequest("invalid_field", "a token needs a name")
            }
            let (token, secret) = try await create(name: body.name, role: body.role ?? .viewer, in: store)
            return EditedResponse(status: .created, response: CreatedTokenResponse(token: token, secret: secret))
        }
        api.delete("tokens/:id") { _, context -> HTTPResponse.Status in
            try context.requireAdmin()
            let id = try context.parameters.require("id", as: UUID.self)
            // Revoking the token the request carries would lock its holder out (on a server that
            // is not loopback only, the last admin token cannot be made again): another admin
            // token revokes it.
            guard id != context.identity?.tokenID else {
                throw NumbatError.conflict("own_token", "this request is authenticated with token \(id.uuidString.lowercased()); revoke it with another admin token")
            }
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
extension CreateTokenRequest: StrictJSONBody {}
extension CreatedTokenResponse: ResponseEncodable {}
extension TokenListResponse: ResponseEncodable {}
