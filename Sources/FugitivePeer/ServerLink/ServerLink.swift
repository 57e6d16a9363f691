import FugitiveWire
import HummingbirdWSClient
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The peer's connection to the orchestrator: hello/welcome with the resume token,
/// heartbeats at the interval the server asks for, re-announcement of holdings after
/// every (re)connection, and reconnection with jittered exponential back-off, rotating
/// through the configured servers. A `Service`: ``run()`` keeps it up until cancelled.
public final class ServerLink: Service, Sendable {
    public struct Configuration: Sendable {
        /// `ws://` or `wss://` URLs of `/v1/signal`; tried in turn.
        public var servers: [String]
        public var swarm: String
        public var targetPeers: Int
        public var maxPeers: Int
        public var backoffBase: Duration
        public var backoffCap: Duration
        /// Holdings per `have` message (the server bounds message sizes).
        public var announceBatch: Int
        /// How long a connection may take to reach `welcome` before it is abandoned (a
        /// server that accepts but never answers — e.g. one shutting down — would
        /// otherwise hold the link until the socket times out).
        public var welcomeTimeout: Duration
        /// Sent in `hello` for swarms that admit by token.
        public var joinToken: String?

        public init(
            servers: [String], swarm: String, targetPeers: Int = 4, maxPeers: Int = 8, backoffBase: Duration = .milliseconds(500),
            backoffCap: Duration = .seconds(30), announceBatch: Int = 256, welcomeTimeout: Duration = .seconds(10), joinToken: String? = nil
        ) {
            self.joinToken = joinToken
            self.servers = servers
            self.swarm = swarm
            self.targetPeers = targetPeers
            self.maxPeers = maxPeers
            self.backoffBase = backoffBase
            self.backoffCap = backoffCap
            self.announceBatch = announceBatch
            self.welcomeTimeout = welcomeTimeout
        }
    }

    /// What happens on the link, in order.
    public enum Event: Sendable {
        case connected(Welcome, server: String)
        case disconnected(server: String, reason: String)
        /// Anything the server sent after the welcome (pongs aside).
        case message(ServerMessage)
    }

    public let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let configuration: Configuration
    private let holdings: @Sendable () -> [Holding]
    private let logger: Logger
    private let codec = WireCodec(limits: .serverLink)
    private let state = Mutex(State())

    private struct State {
        var outgoing: AsyncStream<ServerMessage>.Continuation?
        var welcome: Welcome?
        /// Who waits for the next welcome (``joined(within:)``).
        var welcomeWaiters: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextWaiter = 0
    }

    /// - Parameter holdings: what the peer holds, announced after each connection.
    public init(configuration: Configuration, holdings: @escaping @Sendable () -> [Holding], logger: Logger) {
        precondition(!configuration.servers.isEmpty, "a server link needs at least one server")
        self.configuration = configuration
        self.holdings = holdings
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
    }

    /// The session's welcome while connected.
    public var welcome: Welcome? { state.withLock { $0.welcome } }

    /// Whether the server has welcomed this peer, waiting up to `timeout` for it: a peer
    /// just started (or reconnecting) asks its first questions once it can, instead of
    /// getting no answer at once.
    public func joined(within timeout: Duration) async -> Bool {
        let (welcomed, sink) = AsyncStream.makeStream(of: Void.self)
        let id = state.withLock { state -> Int? in
            guard state.welcome == nil else { return nil }
            state.nextWaiter += 1
            state.welcomeWaiters[state.nextWaiter] = sink
            return state.nextWaiter
        }
        guard let id else { return true }
        defer { state.withLock { _ = $0.welcomeWaiters.removeValue(forKey: id) } }
        return await first(of: welcomed, within: timeout) != nil
    }

    /// Sends a message on the current connection; false while disconnected.
    @discardableResult
    public func send(_ message: ServerMessage) -> Bool {
        guard let outgoing = state.withLock({ $0.outgoing }) else { return false }
        if case .enqueued = outgoing.yield(message) { return true }
        return false
    }

    public func run() async throws {
        var backoff = Backoff(base: configuration.backoffBase, cap: configuration.backoffCap)
        var resumeToken: String?
        var serverIndex = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let server = configuration.servers[serverIndex % configuration.servers.count]
            let (welcomed, reason, token) = await session(with: server, resumeToken: resumeToken)
            if let token { resumeToken = token }
            eventSink.yield(.disconnected(server: server, reason: reason))
            if welcomed {
                backoff.reset()
            } else {
                // This server did not let us in: try the next one after the wait.
                serverIndex += 1
            }
            let wait = backoff.next()
            logger.debug("server link down; retrying", metadata: ["server": "\(server)", "reason": "\(reason)", "wait": "\(wait)"])
            try? await Task.sleep(for: wait)
        }
        eventSink.finish()
    }

    /// One connection, until it ends. Returns whether a welcome came, why it ended, and
    /// the latest resume token.
    private func session(with server: String, resumeToken: String?) async -> (Bool, String, String?) {
        let (outgoing, outgoingSink) = AsyncStream.makeStream(of: ServerMessage.self)
        let outcome = SessionOutcome()
        let hello = Hello(
            swarm: configuration.swarm, targetPeers: configuration.targetPeers, maxPeers: configuration.maxPeers, resumeToken: resumeToken,
            agent: "fugitive-swift",
            joinToken: configuration.joinToken)
        let welcomeTimeout = configuration.welcomeTimeout
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.connect(server, hello: hello, outgoing: outgoing, outgoingSink: outgoingSink, outcome: outcome)
                return false
            }
            group.addTask {
                try? await Task.sleep(for: welcomeTimeout)
                return true
            }
            // The connection ends first (the watchdog then goes), or the watchdog fires:
            // a welcomed connection carries on, any other is abandoned.
            if await group.next() == true, outcome.state.withLock({ $0.welcomed }) {
                _ = await group.next()
            } else if !outcome.state.withLock({ $0.welcomed }) {
                outcome.state.withLock { if $0.reason == "connection closed" { $0.reason = "no welcome within \(welcomeTimeout)" } }
            }
            group.cancelAll()
        }
        state.withLock {
            $0.outgoing = nil
            $0.welcome = nil
        }
        outgoingSink.finish()
        return outcome.state.withLock { ($0.welcomed, $0.reason, $0.token) }
    }

    private func connect(
        _ server: String, hello: Hello, outgoing: AsyncStream<ServerMessage>, outgoingSink: AsyncStream<ServerMessage>.Continuation,
        outcome: SessionOutcome
    ) async {
        let (codec, logger, eventSink) = (codec, logger, eventSink)
        do {
            _ = try await WebSocketClient.connect(
                url: server, configuration: .init(maxFrameSize: WireLimits.serverLink.maxFrameSize, autoPing: .disabled), logger: logger
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await message in outgoing { try await outbound.write(.binary(codec.encode(message))) }
                    }
                    outgoingSink.yield(.hello(hello))
                    var heartbeat: Task<Void, Never>?
                    defer { heartbeat?.cancel() }
                    for try await frame in inbound.messages(maxSize: WireLimits.serverLink.maxFrameSize) {
                        guard case .binary(let buffer) = frame else { continue }
                        let message = try codec.decodeServerMessage(buffer)
                        switch message {
                        case .welcome(let welcome):
                            outcome.state.withLock { $0 = (true, "connection closed", welcome.resumeToken) }
                            let waiters = self.state.withLock { state in
                                state.outgoing = outgoingSink
                                state.welcome = welcome
                                defer { state.welcomeWaiters = [:] }
                                return Array(state.welcomeWaiters.values)
                            }
                            for waiter in waiters {
                                waiter.yield()
                                waiter.finish()
                            }
                            eventSink.yield(.connected(welcome, server: server))
                            self.announce(on: outgoingSink)
                            heartbeat = Self.heartbeats(every: .milliseconds(welcome.heartbeatMillis), on: outgoingSink)
                        case .error(let error) where outcome.state.withLock({ !$0.welcomed }):
                            outcome.state.withLock { $0.reason = "refused: \(error.code) \(error.message)" }
                        case .pong:
                            break
                        default:
                            eventSink.yield(.message(message))
                        }
                    }
                    outgoingSink.finish()
                    group.cancelAll()
                }
            }
        } catch {
            outcome.state.withLock { if $0.reason == "connection closed" { $0.reason = "\(error)" } }
        }
    }

    /// Announces every holding again: a new session (or a restarted server) knows none.
    private func announce(on sink: AsyncStream<ServerMessage>.Continuation) {
        let all = holdings()
        stride(from: 0, to: all.count, by: configuration.announceBatch).forEach { start in
            sink.yield(.have(Have(holdings: Array(all[start..<min(all.count, start + configuration.announceBatch)]))))
        }
    }

    private static func heartbeats(every interval: Duration, on sink: AsyncStream<ServerMessage>.Continuation) -> Task<Void, Never> {
        Task {
            var nonce: UInt64 = 0
            // Twice per interval, so that one late timer never lets the server time us out.
            while !Task.isCancelled {
                try? await Task.sleep(for: interval / 2)
                nonce += 1
                if case .terminated = sink.yield(.ping(Heartbeat(nonce: nonce))) { return }
            }
        }
    }
}

/// How one connection attempt went, shared by the connection and its watchdog.
private final class SessionOutcome: Sendable {
    let state = Mutex<(welcomed: Bool, reason: String, token: String?)>((false, "connection closed", nil))
}
