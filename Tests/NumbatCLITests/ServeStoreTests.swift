import Foundation
import NumbatTestSupport
import Testing

/// `numbat serve --store`: PostgreSQL as the store of a real server process.
@Suite("numbat serve --store")
struct ServeStoreTests {
    @Test("an unreachable PostgreSQL stops serve at start with the reason, exit 1, never the password")
    func unreachable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let run = try await ChildProcess.run(CLITests.numbat, ["serve", "--port", "0", "--data-dir", directory.path, "--log-level", "debug",
                                                             "--store", "postgres://numbat:hunter2@127.0.0.1:1/numbat?sslmode=disable"])
        #expect(run.status == 1, "\(run.standardError)")
        let output = run.standardOutput + run.standardError
        #expect(output.contains("cannot use the PostgreSQL store postgres://numbat@127.0.0.1:1/numbat"), "\(output)")
        #expect(!output.contains("hunter2"))
        #expect(!output.contains("numbat listening"))

        let invalid = try await ChildProcess.run(CLITests.numbat, ["serve", "--port", "0", "--data-dir", directory.path, "--store", "mysql://x@y/z"])
        #expect(invalid.status != 0 && invalid.standardError.contains("sqlite or postgres://"), "\(invalid.standardError)")
    }

    @Test("NUMBAT_STORE=postgres://...: serve migrates the database, answers, stops cleanly; the password is not logged",
          .requires(.postgres))
    func serveOnPostgres() async throws {
        try await PostgresServer.with { postgres in
            try await postgres.createDatabase("numbat")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-serve-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            // The test server trusts loopback, so the password is carried but never checked: what
            // matters here is that it appears nowhere in the output.
            let url = "postgres://postgres:pa55word-\(UInt32.random(in: 0...UInt32.max))@127.0.0.1:\(postgres.port)/numbat?sslmode=disable"
            let password = String(url.split(separator: ":")[2].split(separator: "@")[0])
            let server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.path, "--log-level", "debug",
                                                        "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))", "--store", url])
            defer { server.kill() }
            let health = try await ChildProcess.run("/usr/bin/curl", ["-s", "\(server.url)/api/health"])
            #expect(health.standardOutput.contains("\"status\":\"ok\""), "\(health.standardOutput)")
            let migrations = try await postgres.psql("SELECT count(*) FROM numbat_migrations", database: "numbat")
            #expect(Int(migrations) ?? 0 >= 6)
            #expect(try await postgres.psql("SELECT count(*) FROM api_token", database: "numbat") == "1")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("numbat.sqlite").path))
            #expect(try await server.terminate() == 0)
            #expect(server.output.contains("postgres://postgres@127.0.0.1:\(postgres.port)/numbat"), "\(server.output)")
            #expect(!server.output.contains(password))
        }
    }

    @Test("the database gone: SIGTERM still stops serve, within its shutdown bound, saying what it could not finish",
          .requires(.postgres))
    func stopsWithoutDatabase() async throws {
        let postgres = try await PostgresServer.start()
        try await postgres.createDatabase("numbat")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess.start(["serve", "--port", "0", "--data-dir", directory.path,
                                                    "--node-name", "numbat\(UInt32.random(in: 0...UInt32.max))",
                                                    "--store", postgres.url(database: "numbat")])
        defer { server.kill() }
        await postgres.stop()
        server.process.terminate()
        // The bound is 15 s for every service and the store together; generous here.
        let status = try await offPool { [process = server.process] in waitForExit(process, timeout: 120) }
        #expect(status != nil, "numbat serve did not exit after SIGTERM with its database gone: \(server.output.suffix(2000))")
    }
}
