import Foundation
import NumbatServer
import NumbatStore
import Testing

/// `store` / `NUMBAT_STORE` / `--store` as the configuration reads them.
@Suite("store configuration")
struct StoreConfigurationTests {
    @Test("the store defaults to SQLite; a PostgreSQL URL comes from the file, the environment or the flag, later ones winning")
    func sources() throws {
        #expect(try ServerConfiguration.load(file: nil, environment: [:], flags: .init()).store == .embedded)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"store": "postgres://numbat@db.example/numbat"}"#.utf8).write(to: file)
        let fromFile = try ServerConfiguration.load(file: file.path, environment: [:], flags: .init())
        #expect(fromFile.store == .postgres(PostgresLocation(host: "db.example", user: "numbat", database: "numbat")))
        let fromEnvironment = try ServerConfiguration.load(
            file: file.path, environment: ["NUMBAT_STORE": "postgresql://u:secret@127.0.0.1:6543/other?sslmode=require"], flags: .init())
        #expect(fromEnvironment.store == .postgres(PostgresLocation(host: "127.0.0.1", port: 6543, user: "u", password: "secret",
                                                                    database: "other", tls: .require)))
        #expect(fromEnvironment.store.description == "postgres://u@127.0.0.1:6543/other?sslmode=require")
        let fromFlag = try ServerConfiguration.load(file: file.path, environment: ["NUMBAT_STORE": "postgres://u@h/d"],
                                                    flags: .init(store: "sqlite"))
        #expect(fromFlag.store == .embedded)
    }

    @Test("a store that is neither sqlite nor a complete PostgreSQL URL is refused without echoing a password")
    func invalid() {
        for text in ["mysql://u@h/d", "postgres://h/d", "postgres://u:pw-123@h", "postgres://u:pw-123@h/d?sslmode=bogus"] {
            #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: ["NUMBAT_STORE": text], flags: .init()) }
            do {
                _ = try ServerConfiguration.load(file: nil, environment: [:], flags: .init(store: text))
            } catch {
                #expect(!"\(error)".contains("pw-123"), "\(error)")
            }
        }
    }
}
