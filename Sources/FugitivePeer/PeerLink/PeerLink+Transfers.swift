import FugitiveRTC
import FugitiveStore
import FugitiveWire
import NIOCore

extension PeerLink {
    // MARK: Downloads

    /// Fetches the resource with `digest` from the peer; returns its bytes, verified.
    /// Cancelling the calling task cancels the transfer (the peer is told).
    public func fetch(_ digest: ResourceDigest, url: String? = nil) async throws(PeerLinkError) -> [UInt8] {
        let (events, sink) = AsyncStream.makeStream(of: PeerMessage.self)
        let id = registerDownload(sink)
        defer { unregisterDownload(id) }
        let request = Array(buffer: codec.encode(.request(Request(id: id, digest: digest, url: url, acceptsDeflate: false))))
        do { try await channel.send(.binary(request)) } catch { throw PeerLinkError(.closed, "the link closed: \(error)") }
        let result: Result<[UInt8], PeerLinkError> = await withTaskCancellationHandler {
            await receive(events, digest: digest)
        } onCancel: {
            sink.finish()
            let cancel = Array(buffer: codec.encode(.cancel(RequestRef(id: id))))
            Task { try? await channel.send(.binary(cancel)) }
        }
        return try result.get()
    }

    private func receive(_ events: AsyncStream<PeerMessage>, digest: ResourceDigest) async -> Result<[UInt8], PeerLinkError> {
        var assembler: ChunkAssembler?
        for await event in events {
            switch event {
            case .head(let head):
                guard assembler == nil, head.encoding == .identity else {
                    return .failure(PeerLinkError(.protocolViolation, "an unexpected head"))
                }
                do {
                    assembler = try ChunkAssembler(head: head, configuration: .init(maxResourceSize: configuration.maxResourceSize))
                } catch {
                    return .failure(PeerLinkError(.protocolViolation, "unacceptable head: \(error)"))
                }
                if assembler?.isComplete == true { return finish(assembler!, digest: digest) }
            case .chunk(let chunk):
                guard assembler != nil else { return .failure(PeerLinkError(.protocolViolation, "a chunk before the head")) }
                do { try assembler!.append(chunk) } catch { return .failure(PeerLinkError(.protocolViolation, "\(error)")) }
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

    private func finish(_ assembler: ChunkAssembler, digest: ResourceDigest) -> Result<[UInt8], PeerLinkError> {
        let bytes: [UInt8]
        do { bytes = Array(buffer: try assembler.finish()) } catch { return .failure(PeerLinkError(.protocolViolation, "\(error)")) }
        guard ResourceDigest.sha256(of: bytes) == digest else {
            return .failure(PeerLinkError(.corrupted, "the bytes do not hash to \(digest)"))
        }
        addDownloaded(bytes.count)
        return .success(bytes)
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
        let task = Task { [self] in
            defer {
                slots.release(for: key)
                forgetUpload(request.id)
            }
            await upload(stored.bytes, for: request)
        }
        rememberUpload(request.id, task)
    }

    private func upload(_ bytes: [UInt8], for request: Request) async {
        let data = ByteBuffer(bytes: bytes)
        let splitter = ChunkSplitter(id: request.id, data: data, maxMessageSize: configuration.maxMessageSize)
        let head = ResponseHead(
            id: request.id, transferLength: UInt64(bytes.count), contentLength: UInt64(bytes.count), encoding: .identity,
            chunkSize: UInt32(splitter.chunkSize))
        do {
            try await channel.send(.binary(Array(buffer: codec.encode(.head(head)))))
            for var chunk in splitter {
                // Cancelled (the requester said `cancel`, or the link closed): stop here.
                try Task.checkCancellation()
                if corruptsUploads, chunk.data.readableBytes > 0 {
                    let first = chunk.data.getInteger(at: chunk.data.readerIndex, as: UInt8.self)!
                    chunk.data.setInteger(first ^ 0xff, at: chunk.data.readerIndex)
                }
                // Suspends while the channel's send buffer is full.
                try await channel.send(.binary(Array(buffer: codec.encode(.chunk(chunk)))))
            }
            countUpload(bytes.count)
        } catch {
            logger.debug("upload ended early", metadata: ["request": "\(request.id)", "reason": "\(error)"])
        }
    }
}
