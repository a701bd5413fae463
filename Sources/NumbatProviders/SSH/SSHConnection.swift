import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSH

/// One authenticated SSH connection (swift-nio-ssh), running commands on exec channels. Files
/// go up through a command's standard input (swift-nio-ssh has no SFTP), so one connection does
/// everything a deployment needs.
public final class SSHConnection: RemoteShell {
    /// Output kept per stream of one command; the rest is counted as truncated, so a chatty
    /// command cannot grow Numbat's memory.
    public static let outputLimit = SSHCommandResult.outputLimit

    public let target: SSHTarget
    /// The host's key as OpenSSH writes it (`ssh-ed25519 AAAA...`), to be remembered for the next login.
    public let hostKey: String
    private let channel: Channel
    private let sshHandler: NIOLoopBound<NIOSSHHandler>

    private init(target: SSHTarget, hostKey: String, channel: Channel, sshHandler: NIOLoopBound<NIOSSHHandler>) {
        self.target = target
        self.hostKey = hostKey
        self.channel = channel
        self.sshHandler = sshHandler
    }

    /// Connects and logs in with `key`. `knownHostKey`, when given, must match the host's key
    /// (trust on first use: the caller stores the `hostKey` of the first login).
    public static func connect(
        to target: SSHTarget,
        key: SSHKeyPair,
        knownHostKey: String? = nil,
        timeout: Duration = .seconds(15),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SSHConnection {
        let login = LoginObserver(target: target, knownHostKey: knownHostKey)
        let loggedIn = group.any().makePromise(of: Void.self)
        login.setPromise(loggedIn)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.init(timeout))
            .channelOption(ChannelOptions.socket(SocketOptionLevel(IPPROTO_TCP), TCP_NODELAY), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ssh = NIOSSHHandler(
                        role: .client(.init(userAuthDelegate: KeyAuthentication(user: target.user, key: key.nioPrivateKey, login: login),
                                            serverAuthDelegate: HostKeyCheck(login: login))),
                        allocator: channel.allocator,
                        inboundChildChannelInitializer: nil)
                    try channel.pipeline.syncOperations.addHandler(ssh)
                    try channel.pipeline.syncOperations.addHandler(LoginHandler(login: login))
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: target.host, port: target.port).get()
        } catch {
            let failure = SSHError("cannot reach \(target.host):\(target.port): \(error)")
            login.fail(failure)
            throw failure
        }
        // Past the deadline the login fails and the connection closes, whatever stage it is in.
        let deadline = channel.eventLoop.scheduleTask(in: .init(timeout)) {
            login.fail(SSHError("logging in to \(target) did not finish within \(timeout)"))
            channel.close(promise: nil)
        }
        do {
            try await loggedIn.futureResult.get()
            deadline.cancel()
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw login.failure ?? (error as? SSHError) ?? SSHError("logging in to \(target) failed: \(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return SSHConnection(target: target, hostKey: login.hostKey ?? "", channel: channel, sshHandler: handler)
    }

    /// Runs `command` through the user's shell, feeding it `standardInput` (then end of file).
    public func run(_ command: String, standardInput: SSHInput?, timeout: Duration = .seconds(120)) async throws -> SSHCommandResult {
        let collector = CommandCollector()
        let done = channel.eventLoop.makePromise(of: SSHCommandResult.self)
        collector.setPromise(done)
        let created = channel.eventLoop.makePromise(of: Channel.self)
        let loopBoundHandler = sshHandler
        channel.eventLoop.execute {
            loopBoundHandler.value.createChannel(created, channelType: .session) { child, _ in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(CommandHandler(collector: collector))
                }.flatMap { child.setOption(ChannelOptions.allowRemoteHalfClosure, value: true) }
            }
        }
        let child: Channel
        do {
            child = try await created.futureResult.get()
        } catch {
            throw SSHError("\(target) refused a session channel: \(error)")
        }
        // Past the deadline the command is killed (a signal request, which OpenSSH honours) and
        // its channel closed; the caller gets the error at once, not when the host lets go.
        let deadline = child.eventLoop.scheduleTask(in: .init(timeout)) {
            collector.fail(SSHError("running \(command.prefix(80)) on \(self.target) did not finish within \(timeout)"))
            child.triggerUserOutboundEvent(SSHChannelRequestEvent.SignalRequest(signal: "KILL"), promise: nil)
            child.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await child.triggerUserOutboundEvent(SSHChannelRequestEvent.ExecRequest(command: command, wantReply: false)).get()
            switch standardInput {
            case .bytes(var input):
                while input.readableBytes > 0 {
                    let chunk = input.readSlice(length: min(32 * 1024, input.readableBytes))!
                    try await child.writeAndFlush(SSHChannelData(type: .channel, data: .byteBuffer(chunk))).get()
                }
            case .file(let url):
                let file = try FileHandle(forReadingFrom: url)
                defer { try? file.close() }
                while let chunk = try file.read(upToCount: 256 * 1024), !chunk.isEmpty {
                    try await child.writeAndFlush(SSHChannelData(type: .channel, data: .byteBuffer(ByteBuffer(bytes: chunk)))).get()
                }
            case nil:
                break
            }
            try? await child.close(mode: .output).get()
        } catch {
            collector.fail(SSHError("sending \(command.prefix(80)) to \(target) failed: \(error)"))
            child.close(promise: nil)
        }
        return try await done.futureResult.get()
    }

    public func close() async {
        try? await channel.close().get()
    }
}

// MARK: - Login

/// What the login learnt, shared by the delegates and the handler on the connection's event loop.
private final class LoginObserver: Sendable {
    let target: SSHTarget
    let knownHostKey: String?
    private let state = NIOLockedValueBox<(promise: EventLoopPromise<Void>?, hostKey: String?, failure: SSHError?)>((nil, nil, nil))

    init(target: SSHTarget, knownHostKey: String?) {
        self.target = target
        self.knownHostKey = knownHostKey
    }

    var hostKey: String? { state.withLockedValue { $0.hostKey } }
    var failure: SSHError? { state.withLockedValue { $0.failure } }

    func setPromise(_ promise: EventLoopPromise<Void>) { state.withLockedValue { $0.promise = promise } }
    func saw(hostKey: String) { state.withLockedValue { $0.hostKey = hostKey } }

    func fail(_ error: SSHError) {
        let promise = state.withLockedValue { value -> EventLoopPromise<Void>? in
            if value.failure == nil { value.failure = error }
            defer { value.promise = nil }
            return value.promise
        }
        promise?.fail(error)
    }

    func succeed() {
        state.withLockedValue { value -> EventLoopPromise<Void>? in
            defer { value.promise = nil }
            return value.promise
        }?.succeed(())
    }
}

private final class KeyAuthentication: NIOSSHClientUserAuthenticationDelegate, @unchecked Sendable {
    private let user: String
    private let key: NIOSSHPrivateKey
    private let login: LoginObserver
    private var offered = false // only touched on the connection's event loop

    init(user: String, key: NIOSSHPrivateKey, login: LoginObserver) {
        self.user = user
        self.key = key
        self.login = login
    }

    func nextAuthenticationType(
        availableMethods: NIOSSHAvailableUserAuthenticationMethods,
        nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        guard !offered, availableMethods.contains(.publicKey) else {
            let error = SSHError("\(login.target) refused Numbat's key (public key authentication failed for user \(user); is the key in its authorized_keys?)",
                                 keyRefused: true)
            login.fail(error)
            nextChallengePromise.fail(error)
            return
        }
        offered = true
        nextChallengePromise.succeed(.init(username: user, serviceName: "", offer: .privateKey(.init(privateKey: key))))
    }
}

private final class HostKeyCheck: NIOSSHClientServerAuthenticationDelegate, Sendable {
    private let login: LoginObserver

    init(login: LoginObserver) { self.login = login }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        let seen = String(openSSHPublicKey: hostKey)
        login.saw(hostKey: seen)
        if let known = login.knownHostKey, known != seen {
            let error = SSHError("the host key of \(login.target.host) changed (expected \(known.prefix(60))..., got \(seen.prefix(60))...): refusing to log in; if the host was rebuilt, forget its key")
            login.fail(error)
            validationCompletePromise.fail(error)
        } else {
            validationCompletePromise.succeed(())
        }
    }
}

private final class LoginHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    private let login: LoginObserver

    init(login: LoginObserver) { self.login = login }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is UserAuthSuccessEvent { login.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        login.fail(SSHError("SSH with \(login.target) failed: \(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        login.fail(SSHError("\(login.target) closed the connection during login"))
        context.fireChannelInactive()
    }
}

// MARK: - Commands

/// Output and status of one command, filled on the child channel's event loop.
private final class CommandCollector: Sendable {
    private struct State {
        var promise: EventLoopPromise<SSHCommandResult>?
        var result = SSHCommandResult(exitStatus: nil, signal: nil, standardOutput: "", standardError: "", truncated: false)
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }
    private let state = NIOLockedValueBox(State())

    func setPromise(_ promise: EventLoopPromise<SSHCommandResult>) { state.withLockedValue { $0.promise = promise } }

    func append(_ buffer: ByteBuffer, standardError: Bool) {
        state.withLockedValue { value in
            let room = SSHConnection.outputLimit - (standardError ? value.stderr.count : value.stdout.count)
            let bytes = buffer.readableBytesView
            if bytes.count > room { value.result.truncated = true }
            if standardError { value.stderr += bytes.prefix(max(0, room)) } else { value.stdout += bytes.prefix(max(0, room)) }
        }
    }

    func exited(status: Int?, signal: String?) {
        state.withLockedValue { value in
            value.result.exitStatus = status
            value.result.signal = signal
        }
    }

    func fail(_ error: SSHError) {
        state.withLockedValue { value -> EventLoopPromise<SSHCommandResult>? in
            defer { value.promise = nil }
            return value.promise
        }?.fail(error)
    }

    func finish() {
        let (promise, result) = state.withLockedValue { value -> (EventLoopPromise<SSHCommandResult>?, SSHCommandResult) in
            var result = value.result
            result.standardOutput = String(decoding: value.stdout, as: UTF8.self)
            result.standardError = String(decoding: value.stderr, as: UTF8.self)
            defer { value.promise = nil }
            return (value.promise, result)
        }
        promise?.succeed(result)
    }
}

private final class CommandHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = SSHChannelData
    private let collector: CommandCollector

    init(collector: CommandCollector) { self.collector = collector }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(let bytes) = message.data else { return }
        collector.append(bytes, standardError: message.type == .stdErr)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let status as SSHChannelRequestEvent.ExitStatus:
            collector.exited(status: status.exitStatus, signal: nil)
        case let signal as SSHChannelRequestEvent.ExitSignal:
            collector.exited(status: nil, signal: signal.signalName)
        case ChannelEvent.inputClosed:
            break // the command's output ended; its status and the close follow
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        collector.finish()
        context.fireChannelInactive()
    }
}
