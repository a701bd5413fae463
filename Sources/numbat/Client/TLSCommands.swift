import ArgumentParser
import Foundation
import NumbatAPI
import NumbatCore

/// `numbat node tls NODE (--tls-cert F --tls-key F --tls-ca F | --clear)`: replaces a managed
/// node's own TLS distribution settings (certificates expire), used from its next connection.
struct NodeTLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Set or clear a node's own TLS distribution certificates (used from its next connection).")
    @Argument(help: "The node's id or name.") var node: String
    @OptionGroup var tls: TLSFileOptions
    @Flag(help: "Remove the node's own settings: it connects with its family's, or over plain TCP.") var clear = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let settings = try TLSChange(files: tls, clear: clear)
        try await runClient {
            let api = client.client()
            let id = try await resolveNode(node, with: api)
            let result = try await settings.send(to: "/api/topo/nodes/\(id)/tls", with: api, as: ManagedNode.self)
            if client.json { return try printJSON(result.data) }
            print("\(result.value.name): TLS settings \(clear ? "removed" : "replaced"); used from its next connection")
        }
    }
}

/// `numbat family tls FAMILY (--tls-cert F --tls-key F --tls-ca F | --clear)`: the certificates
/// the family's nodes without settings of their own connect with.
struct FamilyTLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Set or clear a family's TLS distribution certificates, for its nodes without their own.")
    @Argument(help: "The family's id.") var id: String
    @OptionGroup var tls: TLSFileOptions
    @Flag(help: "Remove the family's settings.") var clear = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let settings = try TLSChange(files: tls, clear: clear)
        try await runClient {
            let result = try await settings.send(to: "/api/topo/node_families/\(id)/tls", with: client.client(), as: FamilyResponse.self)
            if client.json { return try printJSON(result.data) }
            print("\(result.value.name): TLS settings \(clear ? "removed" : "replaced"); used from each node's next connection")
        }
    }
}

/// New TLS settings (PUT) or none (DELETE), from the command's options.
private struct TLSChange {
    let body: TLSSettingsBody?

    init(files: TLSFileOptions, clear: Bool) throws {
        let credentials = try files.credentials()
        switch (credentials, clear) {
        case (nil, false): throw ValidationError("pass --tls-cert, --tls-key and --tls-ca, or --clear")
        case (.some, true): throw ValidationError("--clear takes no certificate")
        case (let credentials?, false): body = TLSSettingsBody(credentials)
        case (nil, true): body = nil
        }
    }

    func send<T: Decodable>(to path: String, with api: APIClient, as type: T.Type) async throws -> APIClient.Reply<T> {
        if let body { return try await api.call("PUT", path, body: body, as: type) }
        return try await api.call("DELETE", path, as: type)
    }
}
