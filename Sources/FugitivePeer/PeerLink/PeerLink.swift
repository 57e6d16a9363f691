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

        public init(maxResourceSize: Int = 256 << 20, maxMessageSize: Int = ChunkSplitter.defaultMaxMessageSize) {
            self.maxResourceSize = maxResourceSize
            self.maxMessageSize = maxMessageSize
        }
    }

    /// Counters of one link.
    public struct Statistics: Sendable, Equatable {
        public var bytesDownloaded = 0
        public var bytesUploaded = 0
        public var uploadsServed = 0
        public var uploadsRefusedBusy = 0
    }

    let channel: DataChannel
    let store: ResourceStore
    let slots: UploadSlots
    let configuration: Configuration
    let logger: Logger
    let codec = WireCodec(limits: .peerLink)
    private let state = Mutex(State())
    /// Test hook: the uploader flips a byte in every chunk (a lying peer).
    let corruptsUploads: Bool

    private struct State {
        var nextRequest: UInt32 = 1
        var downloads: [UInt32: AsyncStream<PeerMessage>.Continuation] = [:]
        var uploads: [UInt32: Task<Void, Never>] = [:]
        var statistics = Statistics()
    }

    public init(
        channel: DataChannel, store: ResourceStore, slots: UploadSlots, configuration: Configuration = .init(), logger: Logger,
        corruptsUploadsForTesting: Bool = false
    ) {
        self.channel = channel
        self.store = store
        self.slots = slots
        self.configuration = configuration
        self.logger = logger
        self.corruptsUploads = corruptsUploadsForTesting
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Reads the channel until it closes; run it for as long as the link is used.
    public func run() async {
        for await message in channel.messages {
            guard case .binary(let bytes) = message else { continue }
            let decoded: PeerMessage
            do {
                decoded = try codec.decodePeerMessage(ByteBuffer(bytes: bytes))
            } catch {
                logger.debug("undecodable peer message; closing the link", metadata: ["error": "\(error)"])
                channel.close()
                break
            }
            handle(decoded)
        }
        // The channel is gone: every transfer in either direction ends.
        let (downloads, uploads) = state.withLock { state in
            defer { (state.downloads, state.uploads) = ([:], [:]) }
            return (Array(state.downloads.values), Array(state.uploads.values))
        }
        for download in downloads { download.finish() }
        for upload in uploads { upload.cancel() }
    }

    private func handle(_ message: PeerMessage) {
        switch message {
        case .request(let request):
            startUpload(request)
        case .cancel(let reference):
            state.withLock { $0.uploads.removeValue(forKey: reference.id) }?.cancel()
        case .head(let head):
            route(head.id, message)
        case .chunk(let chunk):
            route(chunk.id, message)
        case .miss(let reference):
            route(reference.id, message)
        case .busy(let busy):
            route(busy.id, message)
        case .error(let error):
            if let id = error.requestID { route(id, message) }
        case .ping(let heartbeat):
            send(.pong(heartbeat))
        case .pong:
            break
        }
    }

    // MARK: Bookkeeping for the transfers

    func registerDownload(_ sink: AsyncStream<PeerMessage>.Continuation) -> UInt32 {
        state.withLock { state in
            let id = state.nextRequest
            state.nextRequest &+= 1
            state.downloads[id] = sink
            return id
        }
    }

    func unregisterDownload(_ id: UInt32) { state.withLock { $0.downloads.removeValue(forKey: id) }?.finish() }
    func rememberUpload(_ id: UInt32, _ task: Task<Void, Never>) { state.withLock { $0.uploads[id] = task } }
    func forgetUpload(_ id: UInt32) { state.withLock { _ = $0.uploads.removeValue(forKey: id) } }
    func countBusy() { state.withLock { $0.statistics.uploadsRefusedBusy += 1 } }
    func addDownloaded(_ count: Int) { state.withLock { $0.statistics.bytesDownloaded += count } }

    func countUpload(_ count: Int) {
        state.withLock {
            $0.statistics.bytesUploaded += count
            $0.statistics.uploadsServed += 1
        }
    }

    private func route(_ id: UInt32, _ message: PeerMessage) {
        _ = state.withLock { $0.downloads[id] }?.yield(message)
    }

    func send(_ message: PeerMessage) {
        let bytes = Array(buffer: codec.encode(message))
        Task { try? await channel.send(.binary(bytes)) }
    }
}
