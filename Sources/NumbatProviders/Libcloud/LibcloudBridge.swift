import Foundation
import NIOConcurrencyHelpers

/// One running `numbat_libcloud_bridge.py`: the seed's elibcloud, with Python's Apache Libcloud
/// behind a JSON-lines protocol on the child's standard input and output (docs/orchestration.md).
/// Requests carry ids, so many run at once; the bridge is started on first use, greeted with the
/// driver and its credentials (over the pipe, never on the command line), and started again if it
/// dies. It exits by itself when its standard input closes, so it never outlives Numbat.
public actor LibcloudBridge {
    public struct Configuration: Sendable {
        /// A Libcloud compute driver name (`dummy`, `ec2`, `openstack`, `gce`, ...).
        public var driver: String
        /// The driver's positional arguments (usually key and secret).
        public var arguments: [LibcloudValue]
        /// The driver's keyword arguments (`region`, `ex_force_auth_url`, ...).
        public var options: [String: LibcloudValue]
        /// The Python that has apache-libcloud installed.
        public var python: String

        public init(driver: String, arguments: [LibcloudValue] = [], options: [String: LibcloudValue] = [:],
                    python: String = ProcessInfo.processInfo.environment["NUMBAT_PYTHON"] ?? "python3") {
            self.driver = driver
            self.arguments = arguments
            self.options = options
            self.python = python
        }
    }

    /// What the bridge said about itself on hello.
    public struct Greeting: Decodable, Sendable {
        public var libcloud: String
        public var driver: String
        /// Operations beyond nodes and images the driver implements.
        public var features: [String]
    }

    public let configuration: Configuration
    private var child: BridgeProcess?
    private var greeting: Greeting?
    private var nextID = 0
    private var pending: [Int: CheckedContinuation<Data, Error>] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The script, shipped as a resource of this module.
    public static var scriptURL: URL? {
        Bundle.module.url(forResource: "numbat_libcloud_bridge", withExtension: "py")
    }

    /// Starts the bridge if it is not running and greets it; returns what it said.
    @discardableResult
    public func hello() async throws -> Greeting {
        if let greeting, child?.isRunning == true { return greeting }
        try start()
        var arguments: [String: LibcloudValue] = ["driver": .string(configuration.driver)]
        arguments["args"] = .array(configuration.arguments)
        arguments["options"] = .object(configuration.options)
        let greeting: Greeting = try await send("hello", arguments, timeout: .seconds(60))
        self.greeting = greeting
        return greeting
    }

    /// Runs one operation of the protocol and decodes its `ok` answer.
    public func call<Answer: Decodable & Sendable>(_ op: String, _ arguments: [String: LibcloudValue] = [:],
                                                   timeout: Duration = .seconds(120)) async throws -> Answer {
        try await hello()
        return try await send(op, arguments, timeout: timeout)
    }

    /// The running bridge's process id (nil before the first call and after it exits).
    public var processIdentifier: Int32? { child?.isRunning == true ? child?.processIdentifier : nil }

    /// Closes the bridge's input, so it finishes what it runs and exits.
    public func close() {
        child?.closeInput()
        child = nil
        greeting = nil
    }

    // MARK: The wire

    private func start() throws {
        if child?.isRunning == true { return }
        guard let script = Self.scriptURL else { throw ProviderError("the Libcloud bridge script is missing from Numbat's resources", code: "bridge_missing") }
        let process = try BridgeProcess(python: configuration.python, script: script.path) { [weak self] event in
            guard let self else { return }
            Task { await self.handle(event) }
        }
        child = process
    }

    private func send<Answer: Decodable & Sendable>(_ op: String, _ arguments: [String: LibcloudValue], timeout: Duration) async throws -> Answer {
        guard let child else { throw ProviderError("the Libcloud bridge is not running", code: "bridge_failed") }
        nextID += 1
        let id = nextID
        let request = Request(id: id, op: op, args: arguments)
        let line = try JSONEncoder().encode(request) + Data([0x0A])
        let data: Data = try await withCheckedThrowingContinuation { continuation in
            pending[id] = continuation
            do {
                try child.write(line)
            } catch {
                pending[id] = nil
                continuation.resume(throwing: ProviderError("cannot write to the Libcloud bridge: \(error)", code: "bridge_failed"))
                return
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expire(id, op: op, after: timeout)
            }
        }
        let reply = try JSONDecoder().decode(Reply<Answer>.self, from: data)
        if let failure = reply.error { throw ProviderError(failure.message, code: failure.code) }
        guard let answer = reply.ok else {
            throw ProviderError("the Libcloud bridge answered \(op) without a result", code: "bridge_failed")
        }
        return answer
    }

    private func expire(_ id: Int, op: String, after timeout: Duration) {
        pending.removeValue(forKey: id)?.resume(throwing: ProviderError("the Libcloud bridge did not answer \(op) within \(timeout)", code: "timeout"))
    }

    private func handle(_ event: BridgeProcess.Event) {
        switch event {
        case .line(let data):
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = object["id"] as? Int else { return }
            pending.removeValue(forKey: id)?.resume(returning: data)
        case .exited(let standardError):
            child = nil
            greeting = nil
            let why = standardError.isEmpty ? "" : ": " + standardError.suffix(500)
            for continuation in pending.values {
                continuation.resume(throwing: ProviderError("the Libcloud bridge exited\(why)", code: "bridge_failed"))
            }
            pending.removeAll()
        }
    }

    private struct Request: Encodable {
        var id: Int
        var op: String
        var args: [String: LibcloudValue]
    }

    private struct Reply<Answer: Decodable>: Decodable {
        var ok: Answer?
        var error: Failure?

        struct Failure: Decodable {
            var code: String
            var message: String
        }
    }
}

/// A JSON value for the bridge's arguments: driver options are strings, numbers and booleans.
public enum LibcloudValue: Codable, Sendable, Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([LibcloudValue])
    case object([String: LibcloudValue])
    case null

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([LibcloudValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: LibcloudValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// From what JSONSerialization parsed; nil for anything JSON cannot hold.
    public init?(json: Any) {
        switch json {
        case let value as String: self = .string(value)
        case let value as NSNumber:
            // JSONSerialization's numbers say what they were: "c" a boolean, "d" a fraction.
            switch String(cString: value.objCType) {
            case "c": self = .bool(value.boolValue)
            case "d", "f": self = .double(value.doubleValue)
            default: self = .int(value.intValue)
            }
        case let values as [Any]:
            var items: [LibcloudValue] = []
            for value in values { guard let item = LibcloudValue(json: value) else { return nil }; items.append(item) }
            self = .array(items)
        case let values as [String: Any]:
            var items: [String: LibcloudValue] = [:]
            for (key, value) in values { guard let item = LibcloudValue(json: value) else { return nil }; items[key] = item }
            self = .object(items)
        case is NSNull: self = .null
        default: return nil
        }
    }
}
