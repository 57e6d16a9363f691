import NIOCore

/// Reassembles a transfer from its chunks, checking everything a lying or broken
/// sender could get wrong: the request id, index bounds, each chunk's exact length,
/// duplicates, and gaps when the transfer ends.
///
/// Memory grows with the bytes received, never with what the head announces: chunks in
/// order are written into one buffer, and a chunk ahead of its turn is kept on its own
/// until the gap before it is filled (a sender that sends the last chunk first makes the
/// receiver hold that chunk, not the whole transfer). The announced length must itself be
/// within ``Configuration/maxResourceSize``.
public struct ChunkAssembler: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The largest transfer accepted, in bytes. Default 256 MiB.
        public var maxResourceSize: Int

        public init(maxResourceSize: Int = 256 << 20) {
            self.maxResourceSize = maxResourceSize
        }
    }

    public let head: ResponseHead
    private let chunkCount: Int
    private var buffer: ByteBuffer
    private var received: [UInt64]
    /// Chunks `0..<inOrder` are in `buffer`; those after, received, wait in `ahead`.
    private var inOrder = 0
    private var ahead: [Int: ByteBuffer] = [:]
    /// Chunks received so far.
    public private(set) var receivedChunks = 0
    /// Payload bytes received so far.
    public private(set) var receivedBytes = 0

    /// Prepares to receive the transfer `head` announces.
    public init(head: ResponseHead, configuration: Configuration = .init()) throws(WireError) {
        guard head.transferLength <= UInt64(configuration.maxResourceSize) else {
            throw WireError(.resourceTooLarge, "transfer of \(head.transferLength) bytes, limit \(configuration.maxResourceSize)")
        }
        guard head.chunkSize > 0 || head.transferLength == 0 else {
            throw WireError(.invalidField, "chunk size 0 for \(head.transferLength) bytes")
        }
        self.head = head
        self.chunkCount = Int(head.chunkCount)
        self.buffer = ByteBuffer()
        // Small: memory follows what arrives, not what the head announces.
        self.buffer.reserveCapacity(min(Int(head.transferLength), 64 << 10))
        self.received = Array(repeating: 0, count: (chunkCount + 63) / 64)
    }

    /// Whether every chunk has arrived.
    public var isComplete: Bool { receivedChunks == chunkCount }

    /// Stores one chunk.
    public mutating func append(_ chunk: Chunk) throws(WireError) {
        guard chunk.id == head.id else {
            throw WireError(.unknownRequest, "chunk for request \(chunk.id) in transfer \(head.id)")
        }
        let index = Int(chunk.index)
        guard index < chunkCount else {
            throw WireError(.chunkOutOfRange, "chunk \(index) of a \(chunkCount)-chunk transfer")
        }
        let chunkSize = Int(head.chunkSize)
        let offset = index * chunkSize
        let expected = min(chunkSize, Int(head.transferLength) - offset)
        guard chunk.data.readableBytes == expected else {
            throw WireError(.chunkOutOfRange, "chunk \(index) has \(chunk.data.readableBytes) bytes, expected \(expected)")
        }
        let (word, bit) = (index / 64, UInt64(1) << UInt64(index % 64))
        guard received[word] & bit == 0 else {
            throw WireError(.duplicateChunk, "chunk \(index) arrived twice")
        }
        received[word] |= bit
        receivedChunks += 1
        receivedBytes += expected
        guard index == inOrder else {
            ahead[index] = chunk.data
            return
        }
        buffer.setBuffer(chunk.data, at: offset)
        inOrder += 1
        while let next = ahead.removeValue(forKey: inOrder) {
            buffer.setBuffer(next, at: inOrder * chunkSize)
            inOrder += 1
        }
    }

    /// Bytes this assembler holds on to: its buffer's capacity and the chunks waiting
    /// for their turn.
    public var heldBytes: Int { buffer.capacity + ahead.values.reduce(0) { $0 + $1.readableBytes } }

    /// The bytes of chunk `index`, once it arrived (to read a transfer in order while the
    /// rest of it is still arriving); `nil` before. Shares the assembler's storage.
    public func chunk(at index: Int) -> ByteBuffer? {
        guard index >= 0, index < chunkCount, received[index / 64] & (UInt64(1) << UInt64(index % 64)) != 0 else { return nil }
        if let waiting = ahead[index] { return waiting }
        let offset = index * Int(head.chunkSize)
        let length = min(Int(head.chunkSize), Int(head.transferLength) - offset)
        var view = buffer
        view.moveReaderIndex(to: 0)
        view.moveWriterIndex(to: max(view.writerIndex, offset + length))
        return view.getSlice(at: offset, length: length)
    }

    /// Indices of chunks not yet received, the first `limit` of them.
    public func missingChunks(limit: Int = 16) -> [UInt32] {
        var missing: [UInt32] = []
        for index in 0..<chunkCount where received[index / 64] & (UInt64(1) << UInt64(index % 64)) == 0 {
            missing.append(UInt32(index))
            if missing.count == limit { break }
        }
        return missing
    }

    /// The assembled bytes; throws ``WireErrorCode/missingChunks`` while there are gaps.
    public func finish() throws(WireError) -> ByteBuffer {
        guard isComplete else {
            let missing = missingChunks()
            throw WireError(.missingChunks, "\(chunkCount - receivedChunks) of \(chunkCount) chunks missing, first \(missing)")
        }
        var result = buffer
        result.moveReaderIndex(to: 0)
        result.moveWriterIndex(to: Int(head.transferLength))
        return result
    }
}
