import Foundation
import FugitivePeerTesting
import FugitiveStore
import FugitiveTestSupport
import FugitiveWire
import NIOCore
import Synchronization
import Testing

@testable import FugitivePeer

/// A real ``PeerLink`` against a hostile peer that writes whatever it likes on a real
/// data channel (``HostileChannel``): drips, lies about sizes, sends tiny chunks and
/// deflate bombs, floods requests, breaks the framing.
@Suite("Hostile peers", .serialized, .timeLimit(.minutes(2)))
struct HostilePeerTests {
    static func head(for request: Request, _ bytes: [UInt8], chunkSize: Int? = nil, announcing size: Int? = nil) -> ResponseHead {
        // With identity the transfer is the resource: a lie about one is a lie about both.
        ResponseHead(
            id: request.id, transferLength: UInt64(size ?? bytes.count), contentLength: UInt64(size ?? bytes.count), encoding: .identity,
            chunkSize: UInt32(chunkSize ?? ChunkSplitter.payloadSize()))
    }

    /// A head for the deflated `transfer`, announcing `size` bytes once inflated.
    static func deflatedHead(for request: Request, _ transfer: ByteBuffer, chunkSize: Int, announcing size: Int) -> ResponseHead {
        ResponseHead(
            id: request.id, transferLength: UInt64(transfer.readableBytes), contentLength: UInt64(size), encoding: .deflate,
            chunkSize: UInt32(chunkSize))
    }

    /// The victim fetches `bytes` with a 5 s stall timeout and `deadline`; the hostile peer
    /// answers with the head at once, then one chunk every `interval`. Expects the victim
    /// to give up with `.tooSlow`; returns how long that took and the request.
    static func drip(
        _ bytes: [UInt8], every interval: Duration, deadline: Duration, on hostile: HostileChannel
    ) async throws -> (elapsed: Duration, request: Request) {
        let started = ContinuousClock.now
        let fetch = Task {
            try await hostile.victim.fetch(ResourceDigest.sha256(of: bytes), stallTimeout: .seconds(5), deadline: .now + deadline)
        }
        let request = try await hostile.nextRequest()
        try await hostile.send(.head(Self.head(for: request, bytes)))
        let drip = Task {
            for chunk in ChunkSplitter(id: request.id, data: ByteBuffer(bytes: bytes)) {
                try await hostile.send(.chunk(chunk))
                try await Task.sleep(for: interval)
            }
        }
        defer { drip.cancel() }
        await #expect {
            _ = try await fetch.value
        } throws: { ($0 as? PeerLinkError)?.code == .tooSlow }
        return (ContinuousClock.now - started, request)
    }

    @Test func aDrippingPeerIsAbandonedForItsRateLongBeforeTheDeadline() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        // One chunk every 1.5 s: never stalls (5 s), ~11 KB/s.
        let (elapsed, request) = try await Self.drip(
            PeerLinkTests.resource(300_000), every: .milliseconds(1500), deadline: .seconds(25), on: hostile)
        print("a dripping peer was abandoned after \(elapsed) (deadline 25 s, stall timeout 5 s)")
        #expect(elapsed < .seconds(5))
        // It was told to stop.
        #expect(await hostile.next(matching: { if case .cancel(let ref) = $0 { ref.id == request.id } else { false } }) != nil)
    }

    @Test func aPaceThatCannotMeetTheDeadlineEndsTheTransferEarly() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        // ~80 KB/s: above the least rate, but 4 MB would take 50 s.
        let (elapsed, _) = try await Self.drip(
            PeerLinkTests.resource(4_000_000, seed: 4), every: .milliseconds(200), deadline: .seconds(8), on: hostile)
        #expect(elapsed < .seconds(5))
    }

    @Test func tinyChunksAndLyingSizesAreRefusedAndTheSenderIsToldWhy() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        let bytes = PeerLinkTests.resource(5_000, seed: 5)
        let digest = ResourceDigest.sha256(of: bytes)

        // 1-byte chunks: a message and a bitmap bit per byte.
        let tiny = Task { try await hostile.victim.fetch(digest) }
        var request = try await hostile.nextRequest()
        try await hostile.send(.head(Self.head(for: request, bytes, chunkSize: 1)))
        await #expect { _ = try await tiny.value } throws: { ($0 as? PeerLinkError)?.code == .protocolViolation }
        var error = try await hostile.nextError()
        #expect(error.code == .invalidField && error.requestID == request.id, "\(error)")

        // A size other than the one known from the origin.
        let lying = Task { try await hostile.victim.fetch(digest, expectedSize: bytes.count) }
        request = try await hostile.nextRequest()
        try await hostile.send(.head(Self.head(for: request, bytes, announcing: 200 << 20)))
        await #expect { _ = try await lying.value } throws: { ($0 as? PeerLinkError)?.code == .protocolViolation }
        error = try await hostile.nextError()
        #expect(error.code == .sizeMismatch && error.requestID == request.id, "\(error)")

        // Wrong bytes of the right size: 3002 to the sender.
        let wrong = Task { try await hostile.victim.fetch(digest) }
        request = try await hostile.nextRequest()
        let other = PeerLinkTests.resource(5_000, seed: 6)
        try await hostile.send(.head(Self.head(for: request, other)))
        for chunk in ChunkSplitter(id: request.id, data: ByteBuffer(bytes: other)) { try await hostile.send(.chunk(chunk)) }
        await #expect { _ = try await wrong.value } throws: { ($0 as? PeerLinkError)?.code == .corrupted }
        error = try await hostile.nextError()
        #expect(error.code == .digestMismatch && error.requestID == request.id, "\(error)")
    }

    @Test func downloadsAreChargedForWhatArrivesWithinOneBudget() async throws {
        let budget = DownloadBudget(bytes: 4 << 20)
        let hostile = try await HostileChannel(victim: .init(downloadBudget: budget))
        defer { hostile.close() }
        // Eight fetches; each head announces 256 MiB.
        let fetches = (0..<8).map { index in
            Task { try await hostile.victim.fetch(ResourceDigest.sha256(of: [UInt8(index)]), stallTimeout: .seconds(20)) }
        }
        var requests: [Request] = []
        for _ in 0..<8 { requests.append(try await hostile.nextRequest()) }
        let chunk = PeerLinkTests.resource(ChunkSplitter.payloadSize(), seed: 7)
        for request in requests {
            try await hostile.send(
                .head(
                    ResponseHead(
                        id: request.id, transferLength: 256 << 20, contentLength: 256 << 20, encoding: .identity, chunkSize: UInt32(chunk.count))))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(budget.inUse == 0, "heads alone were charged \(budget.inUse) bytes")
        // 1 MiB for each: 8 MiB against a 4 MiB budget.
        var peak = 0
        for index in 0..<64 {
            for request in requests {
                try? await hostile.send(.chunk(Chunk(id: request.id, index: UInt32(index), data: ByteBuffer(bytes: chunk))))
            }
            peak = max(peak, budget.inUse)
        }
        try await Task.sleep(for: .milliseconds(500))
        peak = max(peak, budget.inUse)
        #expect(peak <= budget.capacity)
        #expect(peak > budget.capacity / 2, "the chunks were charged: peak \(peak)")
        var overBudget = 0
        for fetch in fetches {
            fetch.cancel()
            if case .failure(let error as PeerLinkError) = await fetch.result, error.code == .overBudget { overBudget += 1 }
        }
        #expect(overBudget >= 4, "\(overBudget) of 8 transfers went over the budget")
        #expect(budget.inUse == 0)
    }

    @Test func deflateBombsCostTheBudgetNotTheMemory() async throws {
        let budget = DownloadBudget(bytes: 16 << 20)
        let hostile = try await HostileChannel(victim: .init(downloadBudget: budget))
        defer { hostile.close() }
        let bomb = try #require(TransferCompression.deflateIfWorthIt([UInt8](repeating: 0, count: 64 << 20), contentType: "text/plain"))
        let before = residentBytes()
        let fetches = (0..<6).map { index in Task { try await hostile.victim.fetch(ResourceDigest.sha256(of: [UInt8(index)])) } }
        for _ in 0..<6 {
            let request = try await hostile.nextRequest()
            let splitter = ChunkSplitter(id: request.id, data: bomb)
            try await hostile.send(.head(Self.deflatedHead(for: request, bomb, chunkSize: splitter.chunkSize, announcing: 64 << 20)))
            for chunk in splitter { try await hostile.send(.chunk(chunk)) }
        }
        for fetch in fetches {
            await #expect { _ = try await fetch.value } throws: { ($0 as? PeerLinkError)?.code == .overBudget }
        }
        let growth = residentBytes() - before
        print("six deflate bombs of \(bomb.readableBytes) bytes announcing 64 MiB each: resident memory grew \(growth >> 20) MiB")
        #expect(growth < 64 << 20)
        #expect(budget.inUse == 0)
    }

    /// A deflated transfer that inflates beyond the size its head announced is refused at
    /// the chunk that goes over, while the rest of it has not even been sent: it is
    /// inflated as it arrives, not once it is whole.
    @Test func aBombIsCaughtAtTheChunkThatInflatesTooFar() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        let bomb = try #require(TransferCompression.deflateIfWorthIt([UInt8](repeating: 0, count: 64 << 20), contentType: "text/plain"))
        let fetch = Task { try await hostile.victim.fetch(ResourceDigest.sha256(of: [1]), stallTimeout: .seconds(30)) }
        let request = try await hostile.nextRequest()
        let splitter = ChunkSplitter(id: request.id, data: bomb)
        try await hostile.send(.head(Self.deflatedHead(for: request, bomb, chunkSize: splitter.chunkSize, announcing: 1 << 20)))
        // One chunk of ~16 KB inflates to far more than the 1 MiB announced.
        let started = ContinuousClock.now
        try await hostile.send(.chunk(try #require(splitter.first { _ in true })))
        await #expect { _ = try await fetch.value } throws: { ($0 as? PeerLinkError)?.code == .protocolViolation }
        #expect(ContinuousClock.now - started < .seconds(5), "refused only when the transfer stalled")
        let error = try await hostile.nextError()
        #expect(error.code == .inflateFailed && error.requestID == request.id)
    }

    @Test func aRequestFloodIsRefusedBeforeTheStoreIsReadAndEndsTheLink() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        let digest = try hostile.store.store(PeerLinkTests.resource(20_000_000, seed: 8))
        let reads = { hostile.store.statistics.memoryHits + hostile.store.statistics.diskHits }
        var sent = 0
        for id in 1...3000 {
            do { try await hostile.send(.request(Request(id: UInt32(id), digest: digest))) } catch { break }
            sent += 1
        }
        try await hostile.waitUntilClosed()
        let refused = hostile.drain { if case .error(let error) = $0 { error.code == .tooManyRequests } else { false } }
        print("a flood of \(sent) requests: \(reads()) store reads, \(refused.count) refused with 3009, link closed")
        #expect(reads() <= 2)
        // Every refusal was counted; most reached the flooder before the close.
        #expect(hostile.victim.statistics.refusals > 64)
        #expect(refused.count > 32)
    }

    @Test func unknownRequestsAndBrokenFramesAreAnsweredBeforeTheLinkCloses() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        try await hostile.send(.chunk(Chunk(id: 999, index: 0, data: ByteBuffer(bytes: [1, 2, 3]))))
        let unknown = try await hostile.nextError()
        #expect(unknown.code == .unknownRequest && unknown.requestID == 999, "\(unknown)")
        #expect(!hostile.victim.isClosed)
        // Not MessagePack at all.
        try await hostile.send(bytes: [0xc1, 0x00, 0x01])
        let malformed = try await hostile.nextError()
        #expect(malformed.code == .malformedFrame, "\(malformed)")
        try await hostile.waitUntilClosed()
    }

    /// `cancel` and an `error` naming the request stop an upload alike; what still arrives
    /// is what was already in the send buffer (PROTOCOL.md: at most 4 MiB).
    @Test(arguments: [false, true]) func aCancelOrAnErrorNamingAnUploadStopsItAndLittleArrivesAfter(byError: Bool) async throws {
        let slots = UploadSlots()
        let hostile = try await HostileChannel(slots: slots)
        defer { hostile.close() }
        let digest = try hostile.store.store(PeerLinkTests.resource(30_000_000, seed: 9))
        try await hostile.send(.request(Request(id: 1, digest: digest)))
        _ = await hostile.next(matching: { if case .chunk = $0 { true } else { false } })
        if byError {
            try await hostile.send(.error(ErrorMessage(code: .chunkOutOfRange, message: "stop", requestID: 1)))
        } else {
            try await hostile.send(.cancel(RequestRef(id: 1)))
        }
        let stoppedAt = hostile.raw.statistics.receivedBytes
        try await TestSwarm.wait("the upload to stop") { slots.inUse == 0 }
        try await Task.sleep(for: .milliseconds(300))
        let after = hostile.raw.statistics.receivedBytes - stoppedAt
        print("after \(byError ? "the error" : "cancel"): \(after) bytes still arrived (of 30 MB)")
        // The association's send buffer (4 MiB), and the chunk a send waiting for room let go.
        #expect(after <= (4 << 20) + (16 << 10))
    }
}
