import ErlangTerm
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The local hidden node: Numbat's identity in Erlang clusters. It holds the connections to
/// peers (one per peer, shared by every mailbox), the mailboxes, and the optional listener.
///
/// It presents a short name (`numbat@host`) to short-name peers and a long one
/// (`numbat@host.example.com`) to long-name peers, so one local node reaches both kinds.
public final class LocalNode: Sendable {
    public struct Configuration: Sendable {
        /// `alive` or `alive@host`; the host, if given, is used for peers of its name style.
        public var name: String
        public var cookie: String
        /// Like `-kernel net_ticktime`: a silent peer is dropped after this long.
        public var tickTime: Duration = .seconds(60)
        /// Like `net_setuptime`: how long a connection attempt (EPMD + TCP + handshake) may take.
        public var connectTimeout: Duration = .seconds(7)
        /// EPMD's port on every host: `ERL_EPMD_PORT` if set (as `erl` reads it), else 4369.
        public var epmdPort: Int = EPMDProtocol.configuredPort
        /// Host part presented to short-name peers; default: this machine's host name up to the first dot.
        public var shortHost: String?
        /// Host part presented to long-name peers; default: the fully qualified host name, else 127.0.0.1.
        public var longHost: String?
        /// Messages larger than this are sent in fragments (the BEAM's unit is 64 KiB).
        public var fragmentSize: Int = DistributionFrameEncoder.defaultFragmentSize
        /// Largest single frame accepted from a peer.
        public var maxFrameSize: Int = 128 << 20
        /// Whether sending to, calling, linking or monitoring a process on a node this node is
        /// not connected to dials that node first, as Erlang does by default. Off, as with
        /// `-kernel dist_auto_connect never`, only `connect(to:)` dials, and the rest fails
        /// with `noConnection`: a manager that let a node go (a hand-over to another server)
        /// stays disconnected even if some work of its own still calls that node.
        public var autoConnect = true
        /// How long an rpc's caller keeps a CPU awake for its reply, as the BEAM's schedulers
        /// spin before they sleep (`+sbwt`); only calls whose replies have come this fast spin
        /// (`BusyWaitPolicy`). Zero: never. One caller's round trip on a virtual machine is
        /// then a quarter shorter or more (docs/benchmarks.md).
        public var busyWait: Duration = .microseconds(200)

        public init(name: String, cookie: String) {
            self.name = name
            self.cookie = cookie
        }
    }

    public let configuration: Configuration
    /// The name under the configured host (or the long name, if none was given).
    public let name: NodeName
    let shortName: NodeName
    let longName: NodeName
    /// This incarnation's creation, stamped on every pid and reference it makes.
    public let creation: UInt32
    let group: any EventLoopGroup
    /// The event loop of the reply timer (`State.replyTimer`): one for the node, so that the
    /// timer it sets again when it goes off is set from its own loop, without a wake-up.
    let replyTimerLoop: any EventLoop
    /// The event loops the node's connections run on (and its timers may).
    public var eventLoopGroup: any EventLoopGroup { group }
    let logger: Logger
    let state = NIOLockedValueBox(State())

    struct State {
        var connections: [Atom: ConnectionSlot] = [:]
        var receivers: [UInt32: Receiver] = [:]
        /// Replies the connections decoded flat and handed to their `rpcFlat` (for the tests).
        var flatReplies = 0
        /// Per peer, the one-shot reply pids waiting on it (`Receiver.reply`), and the mailboxes
        /// linked to, monitoring or monitored by its processes (`bond`): all that its lost
        /// connection concerns. Indexed so that losing one peer among thousands (a server
        /// handing over its nodes) visits only those, not every mailbox. A mailbox may stay
        /// listed after its links went: it is then told of a loss that concerns nothing of it.
        /// A peer's reply set stays, empty, between calls (see `forgetReply`).
        var awaitingReplies: [Atom: Set<UInt32>] = [:]
        var bonds: [Atom: Set<UInt32>] = [:]
        var registered: [Atom: UInt32] = [:]
        var nextID: UInt32 = 100
        var nextReference: UInt64 = 1
        var listener: (any Channel)?
        var epmdRegistration: (any Channel)?
        var listenPort: Int?
        var subscribers: [UInt64: AsyncStream<NodeEvent>.Continuation] = [:]
        /// Cookies set for particular peers, as `erlang:set_cookie/2` does.
        var cookies: [Atom: String] = [:]
        /// Peers reached on a fixed port instead of through EPMD (`setDistributionPort`).
        var distributionPorts: [Atom: Int] = [:]
        /// Peers reached over TLS distribution (`setTLS`), with their parsed client contexts.
        var tls: [Atom: (settings: DistributionTLS, context: NIOSSLContext)] = [:]
        var nextSubscriber: UInt64 = 0
        var isShutDown = false
        /// When each waiting reply times out, and the one timer that fails the overdue ones
        /// (set for the earliest deadline, on `replyTimerLoop`; nil while no reply waits).
        var replyDeadlines = ReplyDeadlines()
        var replyTimer: Scheduled<Void>?
        /// Which calls spin while they wait (`ReplySpinner`), learned from their replies.
        var busyWait = BusyWaitPolicy(budget: 0)
        /// Calls that spun for their replies (for the tests).
        var spunCalls = 0

        /// A reply pid for `node` is answered, timed out or cancelled.
        ///
        /// The node's set is found once and kept when it empties, with its room, until the
        /// connection goes (`connectionLost` drops it): three lookups by node name, and a set
        /// freed and made again for every call of a lone caller, were 3,400 of an rpc round
        /// trip's 53,000 instructions.
        mutating func forgetReply(_ id: UInt32, on node: Atom) {
            if let index = awaitingReplies.index(forKey: node) { awaitingReplies.values[index].remove(id) }
            replyDeadlines.remove(id)
        }
    }

    enum ConnectionSlot {
        case pending(EventLoopFuture<NodeConnection>)
        case up(NodeConnection)
    }

    /// How a wait for one reply ends.
    enum ReplyOutcome: Sendable {
        case reply(Term)
        /// A reply to a pid of `flatReplySerial`, decoded into a `FlatTerm`.
        case flatReply(FlatTerm)
        case failed(DistributionError)
        case timedOut
        case cancelled
    }

    /// The serial of one-shot reply pids whose message is decoded into a `FlatTerm` (`rpcFlat`)
    /// instead of a `Term`; every other local pid has serial 0. The connection reads it from
    /// the control tuple, before the payload is decoded.
    static let flatReplySerial: UInt32 = 1

    /// Who a local pid id belongs to.
    enum Receiver {
        case mailbox(Mailbox)
        /// A pid made for one reply (rpc): resumed once, by whoever removes it.
        /// Its ticket says what it is and when it was sent, for `BusyWaitPolicy` to learn.
        case reply(node: Atom, ticket: BusyWaitPolicy.Ticket, resume: @Sendable (ReplyOutcome) -> Void)
    }

    public init(_ configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "numbat.dist")) throws(DistributionError)
    {
        self.configuration = configuration
        self.group = group
        self.replyTimerLoop = group.next()
        self.logger = logger
        let alive: String
        var givenHost: String?
        if configuration.name.contains("@") {
            let parsed = try NodeName(configuration.name)
            alive = parsed.alive
            givenHost = parsed.host
        } else {
            alive = configuration.name
            _ = try NodeName("\(alive)@localhost")
        }
        let hostname = Self.hostName()
        let shortHost = configuration.shortHost
            ?? givenHost.flatMap { NodeName(alive: alive, host: $0).isLong ? nil : $0 }
            ?? String(hostname.split(separator: ".").first ?? "localhost")
        let longHost = configuration.longHost
            ?? givenHost.flatMap { NodeName(alive: alive, host: $0).isLong ? $0 : nil }
            ?? (hostname.contains(".") ? hostname : "127.0.0.1")
        shortName = NodeName(alive: alive, host: shortHost)
        longName = NodeName(alive: alive, host: longHost)
        name = givenHost.map { NodeName(alive: alive, host: $0) } ?? longName
        creation = UInt32.random(in: 4...UInt32.max)
        let spin = max(.zero, configuration.busyWait).components
        let budget = UInt64(spin.seconds) * 1_000_000_000 + UInt64(spin.attoseconds / 1_000_000_000)
        state.withLockedValue { $0.busyWait = BusyWaitPolicy(budget: budget) }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The local name presented to `peer`: same style as the peer's.
    public func localName(for peer: NodeName) -> NodeName { peer.isLong ? longName : shortName }

    /// Whether `atom` is one of this node's names.
    func isLocal(_ atom: Atom) -> Bool { atom == shortName.atom || atom == longName.atom }

    func pid(id: UInt32, as nodeName: Atom, serial: UInt32 = 0) -> Pid {
        Pid(node: nodeName, id: id, serial: serial, creation: creation)
    }

    /// A fresh reference, as `make_ref()` gives, under the name presented to `peer`.
    public func makeReference(for peer: NodeName? = nil) -> Reference {
        let value = state.withLockedValue { state -> UInt64 in
            state.nextReference += 1
            return state.nextReference
        }
        let nodeName = peer.map { localName(for: $0) } ?? name
        return Reference(node: nodeName.atom, creation: creation,
                         ids: [UInt32(truncatingIfNeeded: value & 0x3FFFF), UInt32(truncatingIfNeeded: value >> 18), UInt32.random(in: 0...UInt32.max)])
    }

    func allocateID() -> UInt32 {
        state.withLockedValue { state in
            repeat {
                state.nextID = state.nextID == UInt32.max ? 100 : state.nextID + 1
            } while state.receivers[state.nextID] != nil
            return state.nextID
        }
    }

    // MARK: Cookies

    /// Uses `cookie` for `peer` instead of the configured one, in both directions, like
    /// `erlang:set_cookie(Node, Cookie)`: one Numbat manages clusters with different cookies.
    /// Takes effect at the next connection to `peer`.
    public func setCookie(_ cookie: String, for peer: NodeName) {
        state.withLockedValue { $0.cookies[peer.atom] = cookie }
    }

    /// Forgets the cookie set for `peer`; the configured one applies again.
    public func removeCookie(for peer: NodeName) {
        state.withLockedValue { _ = $0.cookies.removeValue(forKey: peer.atom) }
    }

    /// The cookie used with `peer`.
    func cookie(for peer: String) -> String {
        state.withLockedValue { $0.cookies[Atom(peer)] } ?? configuration.cookie
    }

    // MARK: Peers without EPMD

    /// Reaches `peer` on `port` directly, without asking EPMD, as a node started with
    /// `-erl_epmd_port` does for every peer: nodes run with `-start_epmd false` and a fixed
    /// distribution port (containers, Elixir releases' `ERL_DIST_PORT`) are registered nowhere.
    /// Takes effect at the next connection to `peer`; nil asks EPMD again.
    public func setDistributionPort(_ port: Int?, for peer: NodeName) {
        state.withLockedValue { $0.distributionPorts[peer.atom] = port }
    }

    /// The fixed port `peer` is reached on, if one is set.
    public func distributionPort(for peer: NodeName) -> Int? {
        state.withLockedValue { $0.distributionPorts[peer.atom] }
    }

    // MARK: TLS distribution

    /// Reaches `peer` over TLS, as nodes started with `-proto_dist inet_tls` require: `tls`'s
    /// certificate and key are presented to the node, and the node's certificate is verified
    /// against `tls`'s CA. Checked here (a PEM that does not parse throws `tlsFailed`, and
    /// nothing changes); takes effect at the next connection. Nil: plain TCP again.
    public func setTLS(_ tls: DistributionTLS?, for peer: NodeName) throws(DistributionError) {
        guard let tls else {
            state.withLockedValue { _ = $0.tls.removeValue(forKey: peer.atom) }
            return
        }
        if state.withLockedValue({ $0.tls[peer.atom]?.settings }) == tls { return }
        let context = try tls.clientContext()
        state.withLockedValue { $0.tls[peer.atom] = (tls, context) }
    }

    func tlsContext(for peer: NodeName) -> NIOSSLContext? {
        state.withLockedValue { $0.tls[peer.atom]?.context }
    }

    // MARK: Mailboxes

    /// A new mailbox, registered as `name` if given (`{Name, Node} ! Msg` reaches it).
    ///
    /// `flat`: messages sent to its pid arrive as `.flatMessage`, decoded into a `FlatTerm` by
    /// the connection as they are read (its pid's serial is `flatReplySerial`, which the
    /// connection sees in the control tuple before it decodes the payload). For a mailbox whose
    /// messages are read once and dropped, such as an agent's batches of log events. Messages
    /// sent to its registered name, or from this node, still arrive as `.message`.
    public func makeMailbox(name: String? = nil, flat: Bool = false) throws(DistributionError) -> Mailbox {
        let atom = name.map { Atom($0) }
        let result: Result<Mailbox, DistributionError> = state.withLockedValue { state in
            if state.isShutDown { return .failure(.mailboxClosed) }
            if let atom, state.registered[atom] != nil { return .failure(.nameTaken(atom.name)) }
            repeat {
                state.nextID = state.nextID == UInt32.max ? 100 : state.nextID + 1
            } while state.receivers[state.nextID] != nil
            let mailbox = Mailbox(id: state.nextID, registeredName: atom, node: self, isFlat: flat)
            state.receivers[mailbox.id] = .mailbox(mailbox)
            if let atom { state.registered[atom] = mailbox.id }
            return .success(mailbox)
        }
        return try result.get()
    }

    /// The mailbox registered as `name`, if any.
    public func whereis(_ name: String) -> Mailbox? {
        state.withLockedValue { state in
            guard let id = state.registered[Atom(name)], case .mailbox(let mailbox) = state.receivers[id] else { return nil }
            return mailbox
        }
    }

    // MARK: Events and statistics

    /// Node up/down events from now on, like `net_kernel:monitor_nodes(true)`.
    public func nodeEvents() -> AsyncStream<NodeEvent> {
        // Unbounded: a server that loses or hands over thousands of nodes at once gets thousands
        // of events in a burst, and a dropped `down` would leave a node looking connected.
        let (stream, continuation) = AsyncStream<NodeEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = state.withLockedValue { state -> UInt64 in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: NodeEvent) {
        let subscribers = state.withLockedValue { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    /// Counts of what the node holds; a test or a dashboard can check nothing leaks.
    public struct Statistics: Sendable, Equatable {
        public var connections: Int
        public var mailboxes: Int
        public var pendingReplies: Int
        public var registeredNames: Int
    }

    public var statistics: Statistics {
        state.withLockedValue { state in
            var mailboxes = 0
            var replies = 0
            for receiver in state.receivers.values {
                if case .mailbox = receiver { mailboxes += 1 } else { replies += 1 }
            }
            let connections = state.connections.values.filter { if case .up = $0 { return true } else { return false } }.count
            return Statistics(connections: connections, mailboxes: mailboxes, pendingReplies: replies, registeredNames: state.registered.count)
        }
    }

    /// The peers connected now.
    public var connectedNodes: [NodeName] {
        state.withLockedValue { state in
            state.connections.values.compactMap { slot in
                if case .up(let connection) = slot { return connection.peer }
                return nil
            }
        }
    }

    // MARK: Shutdown

    /// Closes every connection, the listener and the EPMD registration, and every mailbox.
    public func shutdown() async {
        let (connections, mailboxes, listener, registration, subscribers, replies) = state.withLockedValue { state in
            state.isShutDown = true
            state.replyTimer?.cancel()
            state.replyTimer = nil
            state.replyDeadlines.stopTimer()
            // Calls still waiting end now: with the timer gone nothing else would time them out.
            var replies: [@Sendable (ReplyOutcome) -> Void] = []
            for (id, receiver) in state.receivers {
                guard case .reply(let node, _, let resume) = receiver else { continue }
                state.receivers[id] = nil
                state.forgetReply(id, on: node)
                replies.append(resume)
            }
            let connections = state.connections.values.compactMap { slot -> NodeConnection? in
                if case .up(let connection) = slot { return connection }
                return nil
            }
            let mailboxes = state.receivers.values.compactMap { receiver -> Mailbox? in
                if case .mailbox(let mailbox) = receiver { return mailbox }
                return nil
            }
            defer {
                state.listener = nil
                state.epmdRegistration = nil
                state.subscribers = [:]
            }
            return (connections, mailboxes, state.listener, state.epmdRegistration, Array(state.subscribers.values), replies)
        }
        for resume in replies { resume(.failed(.mailboxClosed)) }
        for mailbox in mailboxes { close(mailbox, reason: .atom("shutdown")) }
        for connection in connections { try? await connection.channel.close() }
        try? await listener?.close()
        try? await registration?.close()
        for subscriber in subscribers { subscriber.finish() }
    }
}
