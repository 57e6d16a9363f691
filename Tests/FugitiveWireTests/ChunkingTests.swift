import FugitiveTestSupport
import NIOCore
import Testing

@testable import FugitiveWire

@Suite struct ChunkingTests {
    let codec = WireCodec(limits: .peerLink)

    func head(for splitter: ChunkSplitter) -> ResponseHead {
        ResponseHead(
            id: splitter.id, transferLength: UInt64(splitter.data.readableBytes), contentLength: UInt64(splitter.data.readableBytes),
            encoding: .identity, chunkSize: UInt32(splitter.chunkSize))
    }

    func randomData(_ count: Int, _ rng: inout SplitMix64) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    @Test(arguments: [0, 1, 16_000, 16_354, 16_355, 100_000, 1 << 20])
    func everyMessageFitsAndReassembles(size: Int) throws {
        var rng = SplitMix64(seed: UInt64(size))
        let data = randomData(size, &rng)
        let splitter = ChunkSplitter(id: .max, data: data)
        var assembler = try ChunkAssembler(head: head(for: splitter))
        var count = 0
        for chunk in splitter {
            let frame = codec.encode(.chunk(chunk))
            #expect(frame.readableBytes <= 16_384)
            guard case .chunk(let decoded) = try codec.decodePeerMessage(frame) else { Issue.record("not a chunk"); return }
            try assembler.append(decoded)
            count += 1
        }
        #expect(count == splitter.count)
        #expect(try assembler.finish() == data)
    }

    @Test func fullChunksUseTheWholeMessage() {
        let splitter = ChunkSplitter(id: .max, data: ByteBuffer(repeating: 1, count: 100_000))
        var iterator = splitter.makeIterator()
        let first = iterator.next()!
        #expect(codec.encode(.chunk(Chunk(id: .max, index: .max, data: first.data))).readableBytes == 16_384)
    }

    @Test func configurableMessageSize() throws {
        let splitter = ChunkSplitter(id: 1, data: ByteBuffer(repeating: 3, count: 5000), maxMessageSize: 1024)
        for chunk in splitter { #expect(codec.encode(.chunk(chunk)).readableBytes <= 1024) }
        #expect(splitter.count == (5000 + splitter.chunkSize - 1) / splitter.chunkSize)
    }

    @Test func outOfOrderArrivalIsFine() throws {
        var rng = SplitMix64(seed: 7)
        let data = randomData(200_000, &rng)
        let splitter = ChunkSplitter(id: 5, data: data)
        var assembler = try ChunkAssembler(head: head(for: splitter))
        for chunk in Array(splitter).shuffled(using: &rng) { try assembler.append(chunk) }
        #expect(try assembler.finish() == data)
    }

    @Test func aChunkAheadOfItsTurnCostsItsBytesNotTheTransfer() throws {
        var rng = SplitMix64(seed: 12)
        let data = randomData(4 << 20, &rng)
        let splitter = ChunkSplitter(id: 6, data: data)
        let chunks = Array(splitter)
        var assembler = try ChunkAssembler(head: head(for: splitter))
        // The last chunk first: held on its own, not a buffer grown to 4 MiB.
        try assembler.append(chunks.last!)
        #expect(assembler.heldBytes < 128 << 10, "\(assembler.heldBytes) bytes held for one chunk")
        #expect(assembler.chunk(at: chunks.count - 1) == chunks.last!.data)
        // The rest, backwards: everything waits until the first arrives, then it is whole.
        for chunk in chunks.dropLast().reversed() { try assembler.append(chunk) }
        #expect(try assembler.finish() == data)
        #expect(assembler.chunk(at: 1) == chunks[1].data)
    }

    @Test func lyingSendersAreCaught() throws {
        let splitter = ChunkSplitter(id: 5, data: ByteBuffer(repeating: 9, count: 50_000))
        let chunks = Array(splitter)
        var assembler = try ChunkAssembler(head: head(for: splitter))
        try assembler.append(chunks[0])
        #expect(throws: WireError.self) { try assembler.append(chunks[0]) }
        do { try assembler.append(chunks[0]) } catch { #expect(error.code == .duplicateChunk) }
        do { try assembler.append(Chunk(id: 5, index: 99, data: chunks[1].data)) } catch { #expect(error.code == .chunkOutOfRange) }
        do { try assembler.append(Chunk(id: 5, index: 1, data: ByteBuffer(repeating: 1, count: 10))) } catch {
            #expect(error.code == .chunkOutOfRange)
        }
        do { try assembler.append(Chunk(id: 6, index: 1, data: chunks[1].data)) } catch { #expect(error.code == .unknownRequest) }
        // The last chunk must be exactly the remainder, not a full chunk.
        do { try assembler.append(Chunk(id: 5, index: UInt32(chunks.count - 1), data: chunks[0].data)) } catch {
            #expect(error.code == .chunkOutOfRange)
        }
        try assembler.append(chunks[2])
        #expect(assembler.missingChunks() == [1, 3])
        do { _ = try assembler.finish() } catch { #expect(error.code == .missingChunks) }
        try assembler.append(chunks[3])
        try assembler.append(chunks[1])
        #expect(assembler.isComplete)
        #expect(try assembler.finish() == splitter.data)
    }

    @Test func announcedSizeIsBounded() {
        let head = ResponseHead(id: 1, transferLength: 1 << 40, contentLength: 1 << 40, encoding: .identity, chunkSize: 16_000)
        do {
            _ = try ChunkAssembler(head: head, configuration: .init(maxResourceSize: 1 << 30))
            Issue.record("accepted a terabyte")
        } catch {
            #expect(error.code == .resourceTooLarge)
        }
    }
}
