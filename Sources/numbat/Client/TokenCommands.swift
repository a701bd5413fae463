import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat token create|list|revoke`: API tokens (admin only).
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is printed once.")
        @Argument(help: "A name for the token, e.g. the person or tool using it.") var name: String
        @Option(help: "admin or viewer (read-only).") var role = "viewer"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                guard let role = APIToken.Role(rawValue: role) else { throw ValidationError("--role is admin or viewer, not '\(role)'") }
                let result = try await client.client().call("POST", "/api/tokens", body: CreateTokenRequest(name: name, role: role), as: CreatedTokenResponse.self)
                if client.json { return try printJSON(result.data) }
                print(result.value.secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().call("GET", "/api/tokens", as: TokenListResponse.self)
                if client.json { return try printJSON(result.data) }
                printTable(["ID", "NAME", "ROLE", "LAST USED"], result.value.tokens.map { token in
                    [token.id.uuidString.lowercased(), token.name, token.role.rawValue, token.lastUsedAt?.formatted(.iso8601) ?? "never"]
                })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token.")
        @Argument(help: "The token's id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                try await client.client().send("DELETE", "/api/tokens/\(id)")
                print("revoked \(id)")
            }
        }
    }
}
