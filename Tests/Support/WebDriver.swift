import Foundation
import NumbatCore

/// Headless Chromium for the dashboard tests, driven over the W3C WebDriver protocol that
/// Debian's chromedriver speaks (plain JSON over HTTP: no Selenium needed). One browser per
/// test; `with` quits it and its driver however the test ends.
public final class Browser: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static let chromium = "/usr/bin/chromium"
    public static let chromedriver = "/usr/bin/chromedriver"
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: chromedriver)
    }

    private let driver: Subprocess
    private let base: String
    private let session: String
    private let profile: URL

    private init(driver: Subprocess, base: String, session: String, profile: URL) {
        self.driver = driver
        self.base = base
        self.session = session
        self.profile = profile
    }

    /// Runs `body` with a fresh browser, quit however it ends; one browser (or pool of namespace
    /// hosts) at a time in the test process (`HeavyPeerGate`).
    public static func with<T>(_ body: (Browser) async throws -> T) async throws -> T {
        try await HeavyPeerGate.shared.run {
            let browser = try await start()
            do {
                let value = try await body(browser)
                await browser.quit()
                return value
            } catch {
                // With NUMBAT_SCREENSHOTS set, the page as the failure left it.
                if let directory = ProcessInfo.processInfo.environment["NUMBAT_SCREENSHOTS"] {
                    try? await browser.screenshot(to: URL(fileURLWithPath: directory).appendingPathComponent("failure.png"))
                }
                await browser.quit()
                throw error
            }
        }
    }

    static func start() async throws -> Browser {
        // A random port may be taken, and a loaded machine starts chromedriver slowly: a driver
        // that exits (port in use) is started again on another port; one that lives gets 30 s.
        var started: (Subprocess, Int)?
        for _ in 0..<3 where started == nil {
            let port = Int.random(in: 30_000...39_999)
            let driver = Subprocess()
            driver.executableURL = URL(fileURLWithPath: chromedriver)
            driver.arguments = ["--port=\(port)"]
            driver.standardOutput = FileHandle.nullDevice
            driver.standardError = FileHandle.nullDevice
            try driver.run()
            for _ in 0..<600 {
                if try await offPool({ canConnect(host: "127.0.0.1", port: port) }) { started = (driver, port); break }
                if waitForExit(driver, timeout: 0) != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            if started == nil { killAndReap(driver.processIdentifier) }
        }
        guard let (driver, port) = started else { throw Failure(description: "chromedriver did not listen (three tries)") }
        let base = "http://127.0.0.1:\(port)"
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-chromium-\(UUID().uuidString)")
        let options: [String: Any] = [
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900",
                     "--user-data-dir=\(profile.path)", "--no-first-run"],
        ]
        do {
            let answer = try await call(base, "POST", "/session", ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options,
                                                                                      "goog:loggingPrefs": ["browser": "ALL"]]]])
            guard let session = (answer as? [String: Any])?["sessionId"] as? String else { throw Failure(description: "no session in \(String(describing: answer))") }
            return Browser(driver: driver, base: base, session: session, profile: profile)
        } catch {
            killAndReap(driver.processIdentifier)
            killBrowsers(using: profile)
            try? FileManager.default.removeItem(at: profile)
            throw error
        }
    }

    public func quit() async {
        _ = try? await Self.call(base, "DELETE", "/session/\(session)", nil)
        let pid = driver.processIdentifier
        _ = try? await offPool { killAndReap(pid) }
        Self.killBrowsers(using: profile)
        try? FileManager.default.removeItem(at: profile)
    }

    /// Chromium outlives a chromedriver that dies: its processes are found by their profile.
    static func killBrowsers(using profile: URL) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for pid in entries.compactMap(Int32.init) where commandLine(of: pid).contains(profile.path) {
            kill(pid, SIGKILL)
        }
    }

    /// What the page logged to its console (errors, failed loads), as chromedriver kept it.
    func consoleLog() async -> String {
        guard let entries = try? await command("POST", "se/log", ["type": "browser"]) as? [[String: Any]] else { return "(not available)" }
        let lines = entries.suffix(30).map { "\($0["level"] ?? "") \($0["message"] ?? "")" }
        return lines.isEmpty ? "(empty)" : lines.joined(separator: " | ")
    }

    // MARK: Commands

    public func open(_ url: String) async throws {
        _ = try await command("POST", "url", ["url": url])
    }

    /// Runs `script` (a function body; `arguments[i]` are the arguments) in the page.
    @discardableResult
    public func run(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await command("POST", "execute/sync", ["script": script, "args": arguments])
    }

    /// Waits until `script` returns something truthy; returns it, or throws with `what` after `timeout`.
    /// Up to 60 s by default: a page loading beside a whole test suite on 2 cores took over 20 s
    /// to show its sign-in dialog (seen in CI).
    @discardableResult
    /// The default bound is wide: on a loaded CI machine (Chromium, OTP nodes and sshd hosts on two
    /// cores) a first page has been seen to take over a minute.
    public func wait(for what: String, timeout: Duration = .seconds(120), _ script: String, _ arguments: [Any] = []) async throws -> Any {
        let deadline = ContinuousClock.now + timeout
        var last: Any?
        while ContinuousClock.now < deadline {
            last = try await run(script, arguments)
            if let value = last, !(value is NSNull), (value as? Bool) != false, (value as? String) != "", (value as? Int) != 0 { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        // What the page shows says why (an error in place of the view, a dialog not opened).
        let page = (try? await run("return location.href + ': ' + (document.body ? document.body.innerText.slice(0, 600) : '(no body)')")) ?? nil
        throw Failure(description: "waited \(timeout) for \(what); the page said \(String(describing: last)); it shows \(String(describing: page)); its console: \(await consoleLog())")
    }

    /// The first element matching `css`, waited for.
    public func element(_ css: String, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = try? await command("POST", "element", ["using": "css selector", "value": css]) as? [String: Any],
               let id = found.values.first as? String {
                return id
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "no element \(css) within \(timeout)")
    }

    /// Clicks the element; a page that redrew it between finding and clicking is tried again.
    public func click(_ css: String, timeout: Duration = .seconds(20)) async throws {
        for attempt in 1...10 {
            let id = try await element(css, timeout: timeout)
            do {
                _ = try await command("POST", "element/\(id)/click", [:])
                return
            } catch let failure as Failure where failure.description.contains("stale element") && attempt < 10 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Types `text` into the element (for a file input: a local path to upload).
    public func type(_ css: String, _ text: String) async throws {
        for attempt in 1...10 {
            let id = try await element(css)
            do {
                _ = try await command("POST", "element/\(id)/clear", [:])
                _ = try await command("POST", "element/\(id)/value", ["text": text])
                return
            } catch let failure as Failure where failure.description.contains("stale element") && attempt < 10 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Sets a field's value directly (long texts such as keys, where typing is slow).
    public func fill(_ css: String, _ text: String) async throws {
        _ = try await element(css)
        try await run("const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));", [css, text])
    }

    /// The element's text; a page that redrew it between finding and reading (the overview's
    /// cards refresh in place) is read again, as `click` and `type` do.
    public func text(_ css: String) async throws -> String {
        for attempt in 1...10 {
            let id = try await element(css)
            do {
                return try await command("GET", "element/\(id)/text", nil) as? String ?? ""
            } catch let failure as Failure where failure.description.contains("stale element") && attempt < 10 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return ""
    }

    /// A PNG of the window.
    /// A Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute`), such as
    /// `Network.setBlockedURLs` to make a request fail as a network change would.
    @discardableResult
    public func devTools(_ command: String, _ parameters: [String: Any] = [:]) async throws -> Any? {
        try await self.command("POST", "goog/cdp/execute", ["cmd": command, "params": parameters])
    }

    public func screenshot(to file: URL) async throws {
        guard let encoded = try await command("GET", "screenshot", nil) as? String, let data = Data(base64Encoded: encoded) else {
            throw Failure(description: "no screenshot")
        }
        try data.write(to: file)
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        try await Self.call(base, method, "/session/\(session)/\(path)", body)
    }

    /// One WebDriver call. Not URLSession: chromedriver writes headers without a space after the
    /// colon, which Foundation's parser refuses; HTTP/1.1 over a socket is all it takes.
    private static func call(_ base: String, _ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        let port = Int(base.split(separator: ":").last ?? "") ?? 0
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let (status, data) = try await offPool { try HTTPExchange.send(port: port, method: method, path: path, body: payload) }
        let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any]
        guard status == 200 else {
            let error = object?["value"] as? [String: Any]
            throw Failure(description: "WebDriver \(method) \(path): \(error?["error"] ?? "") \(String(describing: error?["message"] ?? String(decoding: data, as: UTF8.self)).prefix(300))")
        }
        return object?["value"]
    }
}

/// A blocking HTTP/1.1 request to loopback with `Connection: close`, read by its Content-Length.
enum HTTPExchange {
    static func send(port: Int, method: String, path: String, body: Data) throws -> (Int, Data) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Browser.Failure(description: "no socket") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Browser.Failure(description: "cannot connect to chromedriver on \(port)") }
        var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        request.append(body)
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = Glibc.send(socket, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Browser.Failure(description: "sending to chromedriver failed") }
                sent += n
            }
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator = Data("\r\n\r\n".utf8)
        while true {
            if let end = received.range(of: separator) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
                let length = lines.dropFirst().compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first
                let bodyStart = end.upperBound
                if let length, received.count - bodyStart >= length {
                    return (status, Data(received[bodyStart..<(bodyStart + length)]))
                }
            }
            let n = recv(socket, &buffer, buffer.count, 0)
            if n <= 0 {
                guard let end = received.range(of: separator) else { throw Browser.Failure(description: "chromedriver closed the connection early") }
                let lines = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                return (Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0, Data(received[end.upperBound...]))
            }
            received.append(contentsOf: buffer[0..<n])
        }
    }
}
