import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NumbatCore

/// A small SMTP client (RFC 5321) for alert emails: EHLO, STARTTLS (RFC 3207; required unless
/// told `none`), AUTH PLAIN or LOGIN (RFC 4954), one message to its recipients, QUIT. One
/// connection per message: alerts are few.
struct SMTPClient: Sendable {
    struct Credentials: Sendable {
        var user: String
        var password: String
    }

    /// Why a message was not sent; `permanent` for the server's 5xx refusals (a wrong password,
    /// an unknown recipient) and a missing STARTTLS, which sending again would not change.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        var permanent: Bool
    }

    var host: String
    var port: Int
    var security: AlertReceiver.SMTPSecurity
    /// PEM of the CA the server's certificate must chain to; nil: the system's roots.
    var trustedCA: String?
    var timeout: Double

    func send(from: String, to recipients: [String], message: String, credentials: Credentials?) async throws {
        let replies = SMTPReplies()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(Int64(max(1, timeout))))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SMTPLineHandler(replies: replies)) }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw Failure(description: "cannot reach the SMTP server \(host):\(port): \(error)", permanent: false)
        }
        // A server that stops answering: closing the connection ends the wait for its reply.
        let timedOut = NIOLockedValueBox(false)
        let step = NIOLockedValueBox("connecting")
        let timeout = self.timeout
        let timer = Task {
            try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            timedOut.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        do {
            try await converse(channel, replies, step: step, from: from, to: recipients, message: message, credentials: credentials)
        } catch {
            if timedOut.withLockedValue({ $0 }) {
                throw Failure(description: "the SMTP server \(host):\(port) did not answer \(step.withLockedValue { $0 }) within \(Int(timeout)) s", permanent: false)
            }
            throw error
        }
    }

    private func converse(_ channel: any Channel, _ replies: SMTPReplies, step: NIOLockedValueBox<String>, from: String, to recipients: [String], message: String,
                          credentials: Credentials?) async throws {
        func command(_ line: String, expect: Int, shown: String? = nil) async throws -> SMTPReply {
            step.withLockedValue { $0 = shown ?? line }
            try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n"))
            return try await replies.next(expect: expect, after: shown ?? line)
        }
        _ = try await replies.next(expect: 220, after: "connecting")
        var hello = try await command("EHLO numbat", expect: 250)
        if security == .starttls {
            guard hello.lines.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                throw Failure(description: "the SMTP server \(host):\(port) does not offer STARTTLS", permanent: true)
            }
            _ = try await command("STARTTLS", expect: 220)
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let trustedCA {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustedCA.utf8)))
            }
            let context = try NIOSSLContext(configuration: configuration)
            // An IP address is checked against the certificate's IP names; SNI takes names only.
            let name: String? = (try? SocketAddress(ipAddress: host, port: 0)) != nil ? nil : host
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: name), position: .first)
            }.get()
            hello = try await command("EHLO numbat", expect: 250)
        }
        if let credentials {
            let mechanisms = Set(hello.lines.filter { $0.uppercased().hasPrefix("AUTH") }
                .flatMap { $0.uppercased().dropFirst(4).split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init) })
            if mechanisms.contains("PLAIN") {
                let token = Data("\u{0}\(credentials.user)\u{0}\(credentials.password)".utf8).base64EncodedString()
                _ = try await command("AUTH PLAIN \(token)", expect: 235, shown: "AUTH PLAIN")
            } else if mechanisms.contains("LOGIN") {
                _ = try await command("AUTH LOGIN", expect: 334)
                _ = try await command(Data(credentials.user.utf8).base64EncodedString(), expect: 334, shown: "AUTH LOGIN (user)")
                _ = try await command(Data(credentials.password.utf8).base64EncodedString(), expect: 235, shown: "AUTH LOGIN (password)")
            } else {
                throw Failure(description: "the SMTP server \(host):\(port) offers neither AUTH PLAIN nor AUTH LOGIN", permanent: true)
            }
        }
        _ = try await command("MAIL FROM:<\(from)>", expect: 250)
        for recipient in recipients { _ = try await command("RCPT TO:<\(recipient)>", expect: 250) }
        _ = try await command("DATA", expect: 354)
        _ = try await command(message + ".", expect: 250, shown: "the message")
        try? await channel.writeAndFlush(ByteBuffer(string: "QUIT\r\n"))
    }
}

/// One reply: its code and its lines' texts.
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
}

/// The replies read from the connection, handed to the conversation one at a time.
final class SMTPReplies: Sendable {
    private let state = NIOLockedValueBox<(replies: [Result<SMTPReply, any Error>], waiter: CheckedContinuation<SMTPReply, any Error>?)>(([], nil))

    func deliver(_ result: Result<SMTPReply, any Error>) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<SMTPReply, any Error>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.replies.append(result)
            return nil
        }
        waiter?.resume(with: result)
    }

    func next(expect code: Int, after what: String) async throws -> SMTPReply {
        let reply = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<SMTPReply, any Error>) in
            let ready = state.withLockedValue { state -> Result<SMTPReply, any Error>? in
                if !state.replies.isEmpty { return state.replies.removeFirst() }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
        guard reply.code == code else {
            let text = reply.lines.joined(separator: " ")
            throw SMTPClient.Failure(description: "the SMTP server answered \(what) with \(reply.code) \(text)", permanent: reply.code >= 500)
        }
        return reply
    }
}

/// Splits the bytes into lines and lines into replies (`250-...` continues, `250 ...` ends).
final class SMTPLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let replies: SMTPReplies
    /// Bytes, not a String: Swift reads "\r\n" as one Character, which no search for "\n" finds.
    private var pending: [UInt8] = []
    private var lines: [String] = []

    init(replies: SMTPReplies) { self.replies = replies }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            pending.removeSubrange(...newline)
            guard line.count >= 3, let code = Int(line.prefix(3)) else {
                replies.deliver(.failure(SMTPClient.Failure(description: "the SMTP server sent an unreadable line", permanent: false)))
                continue
            }
            lines.append(line.count > 4 ? String(line.dropFirst(4)) : "")
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] != "-" {
                replies.deliver(.success(SMTPReply(code: code, lines: lines)))
                lines = []
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.deliver(.failure(SMTPClient.Failure(description: "the SMTP server closed the connection", permanent: false)))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replies.deliver(.failure(SMTPClient.Failure(description: "SMTP connection: \(error)", permanent: false)))
        context.close(promise: nil)
    }
}
