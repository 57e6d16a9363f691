import FugitiveRTC
import FugitiveStore
import FugitiveWire
import NIOCore
import Synchronization

/// A resource downloaded from a peer, verified against the digest that was asked for.
public struct PeerDownload: Sendable, Hashable {
    public var bytes: [UInt8]
    public var contentType: String?
    /// Bytes that crossed the channel (fewer than `bytes.count` when deflated).
    public var transferredBytes: Int
}

extension PeerLink {
    // MARK: Downloads

    /// Fetches the resource with `digest` from the peer and returns its bytes, verified
    /// (and inflated when the peer deflated them).
    ///
    /// - Parameters:
    ///   - stallTimeout: the transfer fails with `.stalled` when nothing arrives for this long.
    ///   - claim: called once with the response head; returning false abandons the
    ///     transfer (`.lostRace`, the peer is told `cancel`) — how several peers are asked
    ///     at once and only the first to answer sends the bytes.
    /// Cancelling the calling task cancels the transfer (the peer is told).
    public func fetch(
        _ digest: ResourceDigest, url: String? = nil, stallTimeout: Duration = .seconds(10), progress reporter: FetchProgress.Reporter? = nil,
        claim: @escaping @Sendable (ResponseHead) -> Bool = { _ in true }
    ) async throws(PeerLinkError) -> PeerDownload {
        let (events, sink) = AsyncStream.makeStream(of: PeerMessage.self)
        let id = registerDownload(sink)
        defer { unregisterDownload(id) }
        let request = Array(buffer: codec.encode(.request(Request(id: id, digest: digest, url: url, acceptsDeflate: configuration.acceptsDeflate))))
        do { try await channel.send(.binary(request)) } catch { throw PeerLinkError(.closed, "the link closed: \(error)") }
        let progress = TransferProgress()
        let result: Result<PeerDownload, PeerLinkError> = await withTaskCancellationHandler {
            await withTaskGroup(of: Result<PeerDownload, PeerLinkError>?.self) { group in
                group.addTask { await self.receive(events, digest: digest, progress: progress, reporter: reporter, claim: claim) }
                group.addTask {
                    // The watchdog: a peer that goes quiet mid-transfer costs one stall
                    // timeout, not the whole deadline.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: stallTimeout / 4)
                        if progress.idle > stallTimeout { return .failure(PeerLinkError(.stalled, "nothing arrived for \(stallTimeout)")) }
                    }
                    return nil
                }
                defer { group.cancelAll() }
                return await group.next()! ?? .failure(PeerLinkError(.closed, "cancelled"))
            }
        } onCancel: {
            sink.finish()
        }
        if case .failure(let error) = result, error.code != .miss, error.code != .busy {
            // Whatever went wrong on this side, the peer stops sending.
            send(.cancel(RequestRef(id: id)))
        }
        if Task.isCancelled, case .failure = result { throw PeerLinkError(.cancelled, "the fetch was cancelled") }
        return try result.get()
    }

    private func receive(
        _ events: AsyncStream<PeerMessage>, digest: ResourceDigest, progress: TransferProgress, reporter: FetchProgress.Reporter?,
        claim: @Sendable (ResponseHead) -> Bool
    ) async -> Result<PeerDownload, PeerLinkError> {
        var assembler: ChunkAssembler?
        for await event in events {
            progress.touch()
            switch event {
            case .head(let head):
                guard assembler == nil else { return .failure(PeerLinkError(.protocolViolation, "a second head")) }
                guard head.encoding == .identity || configuration.acceptsDeflate else {
                    return .failure(PeerLinkError(.protocolViolation, "a deflated transfer that was not offered"))
                }
                guard head.contentLength <= UInt64(configuration.maxResourceSize) else {
                    return .failure(PeerLinkError(.protocolViolation, "\(head.contentLength) bytes is over the limit of \(configuration.maxResourceSize)"))
                }
                do {
                    assembler = try ChunkAssembler(head: head, configuration: .init(maxResourceSize: configuration.maxResourceSize))
                } catch {
                    return .failure(PeerLinkError(.protocolViolation, "unacceptable head: \(error)"))
                }
                guard claim(head) else { return .failure(PeerLinkError(.lostRace, "another peer answered first")) }
                if assembler!.isComplete { return finish(assembler!, digest: digest) }
            case .chunk(let chunk):
                guard assembler != nil else { return .failure(PeerLinkError(.protocolViolation, "a chunk before the head")) }
                let count = chunk.data.readableBytes
                do { try assembler!.append(chunk) } catch { return .failure(PeerLinkError(.protocolViolation, "\(error)")) }
                if let limit = configuration.downloadLimit { try? await limit.take(count) }
                reporter?(
                    .init(receivedBytes: assembler!.receivedBytes, totalBytes: Int(assembler!.head.transferLength), source: "peer"))
                if assembler!.isComplete { return finish(assembler!, digest: digest) }
            case .miss:
                return .failure(PeerLinkError(.miss, "the peer does not hold \(digest)"))
            case .busy:
                return .failure(PeerLinkError(.busy, "the peer's upload slots are taken"))
            case .error(let error):
                return .failure(PeerLinkError(.protocolViolation, "the peer answered \(error.code): \(error.message)"))
            default:
                continue
            }
        }
        return .failure(PeerLinkError(.closed, "the transfer ended before it was complete"))
    }

    private func finish(_ assembler: ChunkAssembler, digest: ResourceDigest) -> Result<PeerDownload, PeerLinkError> {
        let head = assembler.head
        let bytes: [UInt8]
        do {
            let transferred = try assembler.finish()
            switch head.encoding {
            case .identity: bytes = Array(buffer: transferred)
            case .deflate: bytes = try TransferCompression.inflate(transferred, contentLength: Int(head.contentLength))
            }
        } catch let error as PeerLinkError {
            return .failure(error)
        } catch {
            return .failure(PeerLinkError(.protocolViolation, "\(error)"))
        }
        guard ResourceDigest.sha256(of: bytes) == digest else {
            return .failure(PeerLinkError(.corrupted, "the bytes do not hash to \(digest)"))
        }
        addDownloaded(Int(head.transferLength))
        return .success(PeerDownload(bytes: bytes, contentType: head.contentType, transferredBytes: Int(head.transferLength)))
    }

    // MARK: Uploads

    func startUpload(_ request: Request) {
        let key = ObjectIdentifier(self)
        guard let stored = try? store.bytes(for: request.digest) else {
            return send(.miss(RequestRef(id: request.id)))
        }
        guard slots.acquire(for: key) else {
            countBusy()
            return send(.busy(Busy(id: request.id, retryAfterMillis: 500)))
        }
        // The URL is only a hint: its content type counts only if it maps to this digest.
        let contentType = request.url.flatMap { url in
            (try? store.resource(for: url)).flatMap { $0.digest == request.digest ? $0.metadata.contentType : nil }
        }
        let task = Task { [self] in
            defer {
                slots.release(for: key)
                forgetUpload(request.id)
            }
            await upload(stored.bytes, contentType: contentType, for: request)
        }
        rememberUpload(request.id, task)
    }

    private func upload(_ bytes: [UInt8], contentType: String?, for request: Request) async {
        let deflated = request.acceptsDeflate ? TransferCompression.deflateIfWorthIt(bytes, contentType: contentType) : nil
        let data = deflated ?? ByteBuffer(bytes: bytes)
        let splitter = ChunkSplitter(id: request.id, data: data, maxMessageSize: configuration.maxMessageSize)
        let head = ResponseHead(
            id: request.id, transferLength: UInt64(data.readableBytes), contentLength: UInt64(bytes.count),
            encoding: deflated == nil ? .identity : .deflate, chunkSize: UInt32(splitter.chunkSize), contentType: contentType)
        do {
            try await channel.send(.binary(Array(buffer: codec.encode(.head(head)))))
            for var chunk in splitter {
                // Cancelled (the requester said `cancel`, or the link closed): stop here.
                try Task.checkCancellation()
                if let limit = configuration.uploadLimit { try await limit.take(chunk.data.readableBytes) }
                if corruptsUploads, chunk.data.readableBytes > 0 {
                    let first = chunk.data.getInteger(at: chunk.data.readerIndex, as: UInt8.self)!
                    chunk.data.setInteger(first ^ 0xff, at: chunk.data.readerIndex)
                }
                // Suspends while the channel's send buffer is full.
                try await channel.send(.binary(Array(buffer: codec.encode(.chunk(chunk)))))
            }
            countUpload(Upload(digest: request.digest, bytes: bytes.count, transferredBytes: data.readableBytes), deflated: deflated != nil)
        } catch {
            logger.debug("upload ended early", metadata: ["request": "\(request.id)", "reason": "\(error)"])
        }
    }
}

/// When a transfer last made progress, for its stall watchdog.
final class TransferProgress: Sendable {
    private let last = Mutex(ContinuousClock.now)
    func touch() { last.withLock { $0 = .now } }
    var idle: Duration { ContinuousClock.now - last.withLock { $0 } }
}
