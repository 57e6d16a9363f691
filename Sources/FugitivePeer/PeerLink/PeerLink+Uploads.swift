import FugitiveRTC
import FugitiveStore
import FugitiveWire
import NIOCore

extension PeerLink {
    /// Answers a `request`. The slot is taken before anything is read: a request beyond
    /// this link's share is refused (3009, and the link closed when it keeps coming), one
    /// beyond the peer's total gets `busy` — neither costs a disk read or a hash. The
    /// store is read off the message loop, and a blob being served is read once for all
    /// its concurrent requests (``UploadSlots``).
    func startUpload(_ request: Request) {
        let key = ObjectIdentifier(self)
        guard !isUploading(request.id) else {
            return refuse(request.id, WireError(.unexpectedMessage, "request \(request.id) is already being answered"))
        }
        switch slots.acquire(for: key) {
        case .granted:
            break
        case .linkFull:
            return refuse(request.id, WireError(.tooManyRequests, "\(slots.perLink) requests of this link are under way"))
        case .allBusy:
            countBusy()
            return send(.busy(Busy(id: request.id, retryAfterMillis: 500)))
        }
        let task = Task { [self] in
            defer {
                slots.release(for: key)
                forgetUpload(request.id)
            }
            guard let bytes = slots.checkOut(request.digest, load: { try? store.bytes(for: request.digest)?.bytes }) else {
                return send(.miss(RequestRef(id: request.id)))
            }
            defer { slots.checkIn(request.digest) }
            // The URL is only a hint: its content type counts only if it maps to this digest.
            let contentType = request.url.flatMap { url in
                (try? store.resource(for: url)).flatMap { $0.digest == request.digest ? $0.metadata.contentType : nil }
            }
            await upload(bytes, contentType: uploadFault.contentType ?? contentType, for: request)
        }
        rememberUpload(request.id, task)
    }

    /// Tells the requester why its request is refused; a link that draws too many
    /// refusals in a short time is closed (its requests cost more than they are worth).
    func refuse(_ id: UInt32, _ error: WireError) {
        send(.error(ErrorMessage(error, requestID: id)))
        if countRefusal() {
            logger.debug("a peer keeps sending refused requests; closing the link", metadata: ["error": "\(error)"])
            closeWithError(WireError(.tooManyRequests, "too many refused requests"))
        }
    }

    private func upload(_ bytes: [UInt8], contentType: String?, for request: Request) async {
        let deflated = request.acceptsDeflate ? TransferCompression.deflateIfWorthIt(bytes, contentType: contentType) : nil
        let data = deflated ?? ByteBuffer(bytes: bytes)
        let messageSize = uploadFault.chunkPayload.map { $0 + Chunk.maximumOverhead } ?? configuration.maxMessageSize
        let splitter = ChunkSplitter(id: request.id, data: data, maxMessageSize: messageSize)
        let head = ResponseHead(
            id: request.id, transferLength: UInt64(data.readableBytes), contentLength: UInt64(bytes.count),
            encoding: deflated == nil ? .identity : .deflate, chunkSize: UInt32(splitter.chunkSize), contentType: contentType)
        do {
            try await channel.send(.binary(Array(buffer: codec.encode(.head(head)))))
            // A test's fault: the same chunks, last first (the protocol allows any order).
            let chunks = uploadFault.reversesChunks ? AnySequence(Array(splitter).reversed()) : AnySequence(splitter)
            for var chunk in chunks {
                // Cancelled (the requester said `cancel` or `error`, or the link closed): stop here.
                try Task.checkCancellation()
                if let limit = configuration.uploadLimit { try await limit.take(chunk.data.readableBytes) }
                if let interval = uploadFault.dripInterval { try await Task.sleep(for: interval) }
                if uploadFault.corrupts, chunk.data.readableBytes > 0 {
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
