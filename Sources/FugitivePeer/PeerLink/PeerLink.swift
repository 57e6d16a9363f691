import FugitiveRTC
import FugitiveStore
import FugitiveWire
import Logging
import NIOCore
import Synchronization

/// One data channel to another peer, speaking the peer protocol both ways: this side's
/// requests (downloads, verified against the digest asked for) and the other side's
/// (uploads from the store, in ≤ 16 KiB messages, paced by the channel's back-pressure,
/// bounded by ``UploadSlots``).
public final class PeerLink: Sendable {
    public struct Configuration: Sendable {
        /// The largest resource accepted from a peer.
        public var maxResourceSize: Int
        /// Message size on the channel (16 KiB: what every WebRTC stack takes).
        public var maxMessageSize: Int
        /// Uploads of all links together stay under this rate, when set.
        public var uploadLimit: TokenBucket?
        /// Downloads of all links together stay under this rate, when set.
        public var downloadLimit: TokenBucket?
        /// Whether this side offers to inflate deflated transfers.
        public var acceptsDeflate: Bool
        /// The memory all downloads of the peer may hold at once (shared by its links).
        public var downloadBudget: DownloadBudget?
        /// Bytes per second a download must average once it has had ``rateGrace`` to get
        /// going (less when ``downloadLimit`` is lower). Default 32 KiB/s.
        public var minimumRate: Int
        public var rateGrace: Duration
        /// The smallest chunk size accepted for a transfer of more than one chunk
        /// (1 KiB; senders use 16 361).
        public var minimumChunkSize: Int
        /// Refused requests (over this link's slots, duplicates, unknown request ids) a
        /// link may draw within ``refusalWindow`` before it is closed. Default 64 in 10 s.
        public var maxRefusals: Int
        public var refusalWindow: Duration

        public init(
            maxResourceSize: Int = 256 << 20, maxMessageSize: Int = ChunkSplitter.defaultMaxMessageSize, uploadLimit: TokenBucket? = nil,
            downloadLimit: TokenBucket? = nil, acceptsDeflate: Bool = true, downloadBudget: DownloadBudget? = nil,
            minimumRate: Int = 32 << 10, rateGrace: Duration = .seconds(2), minimumChunkSize: Int = 1024, maxRefusals: Int = 64,
            refusalWindow: Duration = .seconds(10)
        ) {
            self.maxResourceSize = maxResourceSize
            self.maxMessageSize = maxMessageSize
            self.uploadLimit = uploadLimit
            self.downloadLimit = downloadLimit
            self.acceptsDeflate = acceptsDeflate
            self.downloadBudget = downloadBudget
            self.minimumRate = minimumRate
            self.rateGrace = rateGrace
            self.minimumChunkSize = minimumChunkSize
            self.maxRefusals = maxRefusals
            self.refusalWindow = refusalWindow
        }
    }

    /// Counters of one link.
    public struct Statistics: Sendable, Equatable {
        public var bytesDownloaded = 0
        public var bytesUploaded = 0
        public var uploadsServed = 0
        public var uploadsRefusedBusy = 0
        /// Requests and messages refused with an `error` (3009, 3001, duplicates).
        public var refusals = 0
        /// Uploads the requester ended with an `error`: it refused what this side sent.
        public var uploadsRefusedByRequester = 0
        /// Bytes that went over the channel compressed, and what they inflated to.
        public var deflatedBytesSent = 0
        public var deflatedContentSent = 0
    }

    /// A finished upload, for the peer's events.
    public struct Upload: Sendable, Hashable {
        public var digest: ResourceDigest
        public var bytes: Int
        public var transferredBytes: Int
    }

    let channel: DataChannel
    let store: ResourceStore
    let slots: UploadSlots
    let configuration: Configuration
    let logger: Logger
    let codec = WireCodec(limits: .peerLink)
    let state = Mutex(State())
    /// The main channel's small messages, in order (``send(_:control:)``).
    let outbox: ChannelOutbox
    let onUpload: @Sendable (Upload) -> Void
    /// Test hook: how this side's uploads misbehave.
    let uploadFault: UploadFault

    struct State {
        var nextRequest: UInt32 = 1
        var nextNonce: UInt64 = 1
        var downloads: [UInt32: DownloadInbox] = [:]
        var uploads: [UInt32: Task<Void, Never>] = [:]
        var pings: [UInt64: AsyncStream<Void>.Continuation] = [:]
        /// The channel for `ping` and `pong`, behind its outbox (``attachControl(_:)``), and
        /// whether the other side has spoken on it yet: until it has, pings go on the main
        /// channel.
        var control: ChannelOutbox?
        var controlConfirmed = false
        var statistics = Statistics()
        /// When the refusals of the current window began, and how many there were.
        var refusalWindowStart = ContinuousClock.now
        var refusalsInWindow = 0
    }

    public init(
        channel: DataChannel, store: ResourceStore, slots: UploadSlots, configuration: Configuration = .init(), logger: Logger,
        onUpload: @escaping @Sendable (Upload) -> Void = { _ in }, uploadFaultForTesting: UploadFault = .none
    ) {
        self.channel = channel
        self.outbox = ChannelOutbox(channel)
        self.store = store
        self.slots = slots
        self.configuration = configuration
        self.logger = logger
        self.onUpload = onUpload
        self.uploadFault = uploadFaultForTesting
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Whether the channel underneath has closed.
    public var isClosed: Bool { channel.isClosed }

    /// No download or upload under way on this link.
    public var isIdle: Bool { state.withLock { $0.downloads.isEmpty && $0.uploads.isEmpty } }

    /// Closes the channel; ``run()`` then returns and every transfer ends.
    public func close() {
        channel.close()
        state.withLock { $0.control }?.channel.close()
    }

    /// Reads the channel until it closes; run it for as long as the link is used.
    public func run() async {
        for await message in channel.messages {
            guard case .binary(let bytes) = message else { continue }
            let decoded: PeerMessage
            do {
                decoded = try codec.decodePeerMessage(ByteBuffer(bytes: bytes))
            } catch {
                // 1xxx: the peer is told why (PROTOCOL.md), then the link closes.
                logger.debug("undecodable peer message; closing the link", metadata: ["error": "\(error)"])
                // After what is queued, and before the link is torn down.
                queueClosingError(error)
                await outbox.closeAndWait()
                break
            }
            await handle(decoded)
        }
        // The channel is gone: every transfer in either direction ends, and the control
        // channel with it.
        state.withLock { $0.control }?.channel.close()
        let (downloads, uploads, pings) = state.withLock { state in
            defer { (state.downloads, state.uploads, state.pings) = ([:], [:], [:]) }
            return (Array(state.downloads.values), Array(state.uploads.values), Array(state.pings.values))
        }
        for download in downloads { download.finish(droppingQueued: false) }
        for upload in uploads { upload.cancel() }
        for ping in pings { ping.finish() }
    }

    /// Handles one message; a response waits until its download has room (back-pressure
    /// onto the channel), a chunk also for this side's download rate limit.
    private func handle(_ message: PeerMessage) async {
        switch message {
        case .request(let request):
            startUpload(request)
        case .cancel(let reference):
            state.withLock { $0.uploads.removeValue(forKey: reference.id) }?.cancel()
        case .head(let head):
            await route(head.id, message)
        case .chunk(let chunk):
            await route(chunk.id, message)
        case .miss(let reference):
            await route(reference.id, message)
        case .busy(let busy):
            await route(busy.id, message)
        case .error(let error):
            // An error naming one of this side's uploads ends it, like `cancel`; one
            // naming a download is that download's answer.
            guard let id = error.requestID else { return }
            let upload = state.withLock { state in
                let upload = state.uploads.removeValue(forKey: id)
                if upload != nil { state.statistics.uploadsRefusedByRequester += 1 }
                return upload
            }
            if let upload {
                upload.cancel()
            } else {
                await route(id, message, answerUnknown: false)
            }
        case .ping(let heartbeat):
            send(.pong(heartbeat))
        case .pong(let heartbeat):
            answered(heartbeat)
        }
    }

    // MARK: Bookkeeping for the transfers

    func registerDownload(_ sink: DownloadInbox) -> UInt32 {
        state.withLock { state in
            let id = state.nextRequest
            state.nextRequest &+= 1
            state.downloads[id] = sink
            return id
        }
    }

    func unregisterDownload(_ id: UInt32) { state.withLock { $0.downloads.removeValue(forKey: id) }?.finish(droppingQueued: true) }
    func rememberUpload(_ id: UInt32, _ task: Task<Void, Never>) { state.withLock { $0.uploads[id] = task } }
    func forgetUpload(_ id: UInt32) { state.withLock { _ = $0.uploads.removeValue(forKey: id) } }
    func countBusy() { state.withLock { $0.statistics.uploadsRefusedBusy += 1 } }
    func addDownloaded(_ count: Int) { state.withLock { $0.statistics.bytesDownloaded += count } }

    func countUpload(_ upload: Upload, deflated: Bool) {
        state.withLock {
            $0.statistics.bytesUploaded += upload.transferredBytes
            $0.statistics.uploadsServed += 1
            if deflated {
                $0.statistics.deflatedBytesSent += upload.transferredBytes
                $0.statistics.deflatedContentSent += upload.bytes
            }
        }
        onUpload(upload)
    }

    /// Hands a response to its download. A response for a request this side never made is
    /// refused with 3001; one for a request that has ended (chunks still in flight after
    /// a `cancel`) is dropped.
    private func route(_ id: UInt32, _ message: PeerMessage, answerUnknown: Bool = true) async {
        let (sink, issued) = state.withLock { ($0.downloads[id], id != 0 && id < $0.nextRequest) }
        if let sink {
            // The download limit is kept by reading no faster: unread messages then hold
            // the sender back, so the limit throttles the wire, not a queue on this side.
            if case .chunk(let chunk) = message, let limit = configuration.downloadLimit { try? await limit.take(chunk.data.readableBytes) }
            await sink.put(message)
        } else if !issued, answerUnknown {
            refuse(id, WireError(.unknownRequest, "request \(id) was never made on this link"))
        }
    }

    func isUploading(_ id: UInt32) -> Bool { state.withLock { $0.uploads[id] != nil } }

    /// Counts one refusal; true when the link drew more than it may in the window.
    func countRefusal() -> Bool {
        state.withLock { state in
            let now = ContinuousClock.now
            if now - state.refusalWindowStart > configuration.refusalWindow {
                state.refusalWindowStart = now
                state.refusalsInWindow = 0
            }
            state.refusalsInWindow += 1
            state.statistics.refusals += 1
            return state.refusalsInWindow > configuration.maxRefusals
        }
    }

    /// Sends `error` after what is queued, and closes the channel once it went.
    func closeWithError(_ error: WireError) {
        queueClosingError(error)
        outbox.close()
    }

    /// Queues the `error` a close on the main channel begins with.
    private func queueClosingError(_ error: WireError) {
        outbox.send(Array(buffer: codec.encode(PeerMessage.error(ErrorMessage(error)))))
    }

    /// Queues `message` on the main channel, or on the control channel when `control`.
    func send(_ message: PeerMessage, control: Bool = false) {
        let bytes = Array(buffer: codec.encode(message))
        let box = control ? state.withLock { $0.control } ?? outbox : outbox
        box.send(bytes)
    }
}
