import FugitiveRTC
import FugitiveStore
import FugitiveWire
import NIOCore

/// A resource downloaded from a peer, verified against the digest that was asked for.
public struct PeerDownload: Sendable, Hashable {
    public var bytes: [UInt8]
    public var contentType: String?
    /// Bytes that crossed the channel (fewer than `bytes.count` when deflated).
    public var transferredBytes: Int
}

extension PeerLink {
    /// Fetches the resource with `digest` from the peer and returns its bytes, verified
    /// (and inflated when the peer deflated them).
    ///
    /// - Parameters:
    ///   - expectedSize: the resource's size when it is known from elsewhere (the origin's
    ///     `Content-Length`, the server's holdings): a head announcing another is refused.
    ///   - stallTimeout: the transfer fails with `.stalled` when nothing arrives for this long.
    ///   - deadline: the transfer fails with `.tooSlow` when its pace cannot finish by then
    ///     (and at the latest then); it also fails under ``Configuration/minimumRate``.
    ///   - claim: called once with the response head; returning false abandons the
    ///     transfer (`.lostRace`, the peer is told `cancel`) — how several peers are asked
    ///     at once and only the first to answer sends the bytes.
    /// Cancelling the calling task cancels the transfer (the peer is told).
    public func fetch(
        _ digest: ResourceDigest, url: String? = nil, expectedSize: Int? = nil, stallTimeout: Duration = .seconds(10),
        deadline: ContinuousClock.Instant? = nil, progress reporter: FetchProgress.Reporter? = nil,
        claim: @escaping @Sendable (ResponseHead) -> Bool = { _ in true }
    ) async throws(PeerLinkError) -> PeerDownload {
        let events = DownloadInbox()
        let id = registerDownload(events)
        let charge = DownloadCharge(configuration.downloadBudget)
        defer {
            unregisterDownload(id)
            charge.refundAll()
        }
        let request = Array(buffer: codec.encode(.request(Request(id: id, digest: digest, url: url, acceptsDeflate: configuration.acceptsDeflate))))
        do { try await channel.send(.binary(request)) } catch { throw PeerLinkError(.closed, "the link closed: \(error)") }
        let watch = TransferWatch(
            .init(stallTimeout: stallTimeout, minimumRate: effectiveMinimumRate, grace: configuration.rateGrace, deadline: deadline))
        let expectation = Expectation(digest: digest, size: expectedSize, charge: charge)
        let result: Result<PeerDownload, PeerLinkError> = await withTaskCancellationHandler {
            await withTaskGroup(of: Result<PeerDownload, PeerLinkError>?.self) { group in
                group.addTask { await self.receive(events, expecting: expectation, watch: watch, reporter: reporter, claim: claim) }
                group.addTask {
                    // The watchdog: a peer that goes quiet or crawls mid-transfer costs a
                    // stall timeout or the rate's grace, not the whole deadline.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: min(stallTimeout / 4, .milliseconds(250)))
                        if let verdict = watch.verdict() { return .failure(verdict) }
                    }
                    return nil
                }
                defer { group.cancelAll() }
                return await group.next()! ?? .failure(PeerLinkError(.closed, "cancelled"))
            }
        } onCancel: {
            events.finish(droppingQueued: true)
        }
        if case .failure(let error) = result, error.code != .miss, error.code != .busy {
            // Whatever went wrong on this side, the peer stops sending: told why when it
            // broke the protocol, else just `cancel`.
            if let code = error.wireCode {
                send(.error(ErrorMessage(code: code, message: error.message, requestID: id)))
            } else {
                send(.cancel(RequestRef(id: id)))
            }
        }
        if Task.isCancelled, case .failure = result { throw PeerLinkError(.cancelled, "the fetch was cancelled") }
        return try result.get()
    }

    /// The least rate a transfer must keep: the configured one, or less when this side's
    /// own download limit would not allow it.
    private var effectiveMinimumRate: Int {
        guard let limit = configuration.downloadLimit else { return configuration.minimumRate }
        return min(configuration.minimumRate, limit.rate / 4)
    }

    static let overBudget = PeerLinkError(.overBudget, "downloads in flight hold the whole budget")

    struct Expectation: Sendable {
        var digest: ResourceDigest
        var size: Int?
        var charge: DownloadCharge
    }

    private func receive(
        _ events: DownloadInbox, expecting expectation: Expectation, watch: TransferWatch, reporter: FetchProgress.Reporter?,
        claim: @Sendable (ResponseHead) -> Bool
    ) async -> Result<PeerDownload, PeerLinkError> {
        var assembler: ChunkAssembler?
        var inflater: StreamingInflater?
        while let event = await events.next() {
            watch.touch()
            switch event {
            case .head(let head):
                guard assembler == nil else { return .failure(.violation(.unexpectedMessage, "a second head")) }
                if let refusal = refusal(of: head, expecting: expectation.size) { return .failure(refusal) }
                do {
                    assembler = try ChunkAssembler(head: head, configuration: .init(maxResourceSize: configuration.maxResourceSize))
                } catch {
                    return .failure(.violation(error.code, "unacceptable head: \(error.message)"))
                }
                guard claim(head) else { return .failure(PeerLinkError(.lostRace, "another peer answered first")) }
                if head.encoding == .deflate {
                    do { inflater = try StreamingInflater(contentLength: Int(head.contentLength)) } catch { return .failure(error) }
                }
                watch.headArrived(transferLength: Int(head.transferLength))
                if assembler!.isComplete { return finish(assembler!, inflater, expecting: expectation) }
            case .chunk(let chunk):
                guard assembler != nil else { return .failure(.violation(.unexpectedMessage, "a chunk before the head")) }
                let count = chunk.data.readableBytes
                // Charged for what arrived, not for what the head announced.
                guard expectation.charge.charge(count) else {
                    return .failure(Self.overBudget)
                }
                do { try assembler!.append(chunk) } catch { return .failure(.violation(error.code, error.message)) }
                // Inflated as it arrives: a bomb stops at its first byte over the announced size.
                do { try inflater?.feed(from: assembler!, charge: expectation.charge.charge) } catch { return .failure(error) }
                watch.received(count)
                reporter?(
                    .init(receivedBytes: assembler!.receivedBytes, totalBytes: Int(assembler!.head.transferLength), source: "peer"))
                if assembler!.isComplete { return finish(assembler!, inflater, expecting: expectation) }
            case .miss:
                return .failure(PeerLinkError(.miss, "the peer does not hold \(expectation.digest)"))
            case .busy:
                return .failure(PeerLinkError(.busy, "the peer's upload slots are taken"))
            case .error(let error) where error.code == .tooManyRequests:
                return .failure(PeerLinkError(.busy, "the peer has too many of this side's requests under way"))
            case .error(let error):
                return .failure(PeerLinkError(.protocolViolation, "the peer answered \(error.code): \(error.message)"))
            default:
                continue
            }
        }
        return .failure(PeerLinkError(.closed, "the transfer ended before it was complete"))
    }

    /// Why `head` is refused before a byte is taken, or `nil`.
    private func refusal(of head: ResponseHead, expecting size: Int?) -> PeerLinkError? {
        guard head.encoding == .identity || configuration.acceptsDeflate else {
            return .violation(.invalidField, "a deflated transfer that was not offered")
        }
        guard head.contentLength <= UInt64(configuration.maxResourceSize) else {
            return .violation(.resourceTooLarge, "\(head.contentLength) bytes is over the limit of \(configuration.maxResourceSize)")
        }
        if let size, head.contentLength != UInt64(size) {
            return .violation(.sizeMismatch, "the head announces \(head.contentLength) bytes, the resource has \(size)")
        }
        // Tiny chunks cost a message and a bitmap bit per byte: only a transfer that fits
        // one chunk may use a chunk size under the floor.
        if head.transferLength > UInt64(head.chunkSize), Int(head.chunkSize) < configuration.minimumChunkSize {
            return .violation(.invalidField, "chunks of \(head.chunkSize) bytes, the least accepted is \(configuration.minimumChunkSize)")
        }
        return nil
    }

    private func finish(
        _ assembler: ChunkAssembler, _ inflater: StreamingInflater?, expecting expectation: Expectation
    ) -> Result<PeerDownload, PeerLinkError> {
        let head = assembler.head
        let bytes: [UInt8]
        let digest: ResourceDigest
        do {
            if let inflater {
                // Inflated and hashed while it arrived, and charged for as it came out.
                (bytes, digest) = try inflater.finish()
            } else {
                // The resource's own bytes are memory too, beside the transfer's.
                guard expectation.charge.charge(Int(head.contentLength)) else { return .failure(Self.overBudget) }
                bytes = Array(buffer: try assembler.finish())
                digest = ResourceDigest.sha256(of: bytes)
            }
        } catch let error as PeerLinkError {
            return .failure(error)
        } catch let error as WireError {
            return .failure(.violation(error.code, error.message))
        } catch {
            return .failure(.violation(.invalidField, "\(error)"))
        }
        guard digest == expectation.digest else {
            return .failure(PeerLinkError(.corrupted, "the bytes do not hash to \(expectation.digest)", wireCode: .digestMismatch))
        }
        addDownloaded(Int(head.transferLength))
        return .success(PeerDownload(bytes: bytes, contentType: head.contentType, transferredBytes: Int(head.transferLength)))
    }
}
