import ArgumentParser
import Foundation

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
                let result = try await client.client().json("POST", "/api/tokens", body: ["name": name, "role": role])
                if client.json { return try printJSON(result) }
                print(result["secret"] as? String ?? "")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                let result = try await client.client().json("GET", "/api/tokens")
                if client.json { return try printJSON(result) }
                printTable(["ID", "NAME", "ROLE", "LAST USED"], (result["tokens"] as? [[String: Any]] ?? []).map { token in
                    [token["id"] as? String ?? "", token["name"] as? String ?? "", token["role"] as? String ?? "",
                     token["last_used_at"] as? String ?? "never"]
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
                _ = try await client.client().send("DELETE", "/api/tokens/\(id)")
                print("revoked \(id)")
            }
        }
    }
}
