import Foundation
import NumbatCore
import NumbatServer
import NumbatServices
import Testing

@Suite("reconnect schedule")
struct ReconnectScheduleTests {
    @Test("2 s, growing by half to 30 s, and back to 2 s after a success")
    func schedule() {
        var schedule = ReconnectSchedule()
        let delays = (0..<10).map { _ in schedule.nextDelay() }
        #expect(delays.first == .seconds(2))
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(delays.last == .seconds(30))
        #expect(delays.contains(.seconds(3)) && delays.contains(.seconds(4.5)))
        schedule.reset()
        #expect(schedule.nextDelay() == .seconds(2))
    }
}

@Suite("server configuration")
struct ServerConfigurationTests {
    @Test("file, then environment, then flags; later ones win")
    func precedence() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-\(UUID().uuidString).json")
        try Data(#"{"port": 9000, "host": "0.0.0.0", "data_dir": "/from/file", "log_level": "debug"}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try ServerConfiguration.load(
            file: file.path, environment: ["NUMBAT_PORT": "9100", "NUMBAT_DATA_DIR": "/from/env"],
            flags: .init(port: 9200))
        #expect(configuration.port == 9200)
        #expect(configuration.dataDirectory == "/from/env")
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.logLevel == .debug)
        #expect(!configuration.listensOnLoopbackOnly)
        #expect(try ServerConfiguration.load(file: nil, environment: [:], flags: .init()).listensOnLoopbackOnly)
    }

    @Test("bad values are refused with the setting named")
    func badValues() {
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: ["NUMBAT_PORT": "eighty"], flags: .init()) }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: [:], flags: .init(reconnectInitialSeconds: 5, reconnectMaximumSeconds: 1)) }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: "/no/such/file.json", environment: [:], flags: .init()) }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: [:], flags: .init(netTicktimeSeconds: 0)) }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: ["NUMBAT_NET_TICKTIME_SECONDS": "1.5"], flags: .init()) }
    }

    @Test("net_ticktime_seconds: Erlang's 60 unless set, from the environment or a flag")
    func netTicktime() throws {
        #expect(try ServerConfiguration.load(file: nil, environment: [:], flags: .init()).netTicktimeSeconds == 60)
        #expect(try ServerConfiguration.load(file: nil, environment: ["NUMBAT_NET_TICKTIME_SECONDS": "4"], flags: .init()).netTicktimeSeconds == 4)
        #expect(try ServerConfiguration.load(file: nil, environment: ["NUMBAT_NET_TICKTIME_SECONDS": "4"], flags: .init(netTicktimeSeconds: 2)).netTicktimeSeconds == 2)
    }

    @Test("busy_wait_microseconds: 200 unless set, 0 turns it off, past 10 ms refused")
    func busyWait() throws {
        #expect(try ServerConfiguration.load(file: nil, environment: [:], flags: .init()).busyWaitMicroseconds == 200)
        #expect(try ServerConfiguration.load(file: nil, environment: ["NUMBAT_BUSY_WAIT_MICROSECONDS": "0"], flags: .init()).busyWaitMicroseconds == 0)
        #expect(try ServerConfiguration.load(file: nil, environment: ["NUMBAT_BUSY_WAIT_MICROSECONDS": "0"], flags: .init(busyWaitMicroseconds: 50)).busyWaitMicroseconds == 50)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: [:], flags: .init(busyWaitMicroseconds: -1)) }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(file: nil, environment: ["NUMBAT_BUSY_WAIT_MICROSECONDS": "20000"], flags: .init()) }
    }
}

@Suite("secrets at rest")
struct SecretBoxTests {
    @Test("sealed secrets open only with their key; the key file is 0600 and refused if others can read it")
    func sealing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("secret.key")
        let box = try SecretBox.loadOrCreate(at: keyFile)
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let sealed = try box.seal("my-cookie")
        #expect(sealed.range(of: Data("my-cookie".utf8)) == nil)
        #expect(try SecretBox.loadOrCreate(at: keyFile).open(sealed) == "my-cookie")
        let other = try SecretBox.loadOrCreate(at: directory.appendingPathComponent("other.key"))
        #expect(throws: SecretBox.Failure.self) { try other.open(sealed) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        #expect(throws: SecretBox.Failure.self) { try SecretBox.loadOrCreate(at: keyFile) }
    }
}
