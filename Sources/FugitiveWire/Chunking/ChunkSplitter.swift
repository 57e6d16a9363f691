import NIOCore

/// Splits a transfer into `chunk` messages that each encode to at most
/// `maxMessageSize` bytes, header included. The chunks are zero-copy slices.
public struct ChunkSplitter: Sequence, Sendable {
    /// The data-channel message size the peer link uses: 16 KiB.
    public static let defaultMaxMessageSize = 16_384

    public let id: UInt32
    public let data: ByteBuffer
    /// Payload bytes per chunk (the last may hold fewer).
    public let chunkSize: Int

    /// Creates a splitter; `maxMessageSize` must leave room for the chunk header
    /// (``Chunk/maximumOverhead`` bytes).
    public init(id: UInt32, data: ByteBuffer, maxMessageSize: Int = ChunkSplitter.defaultMaxMessageSize) {
        precondition(maxMessageSize > Chunk.maximumOverhead, "maxMessageSize must exceed \(Chunk.maximumOverhead)")
        self.id = id
        self.data = data
        self.chunkSize = Self.payloadSize(maxMessageSize: maxMessageSize)
    }

    /// Payload bytes that fit in one message of `maxMessageSize` bytes.
    public static func payloadSize(maxMessageSize: Int = defaultMaxMessageSize) -> Int {
        // The bin header grows with the payload (2, 3 or 5 bytes): take the largest
        // payload whose own header still fits.
        let fixed = Chunk.maximumOverhead - 5
        for (header, largest) in [(2, 255), (3, 65_535), (5, Int(UInt32.max))].reversed() {
            let payload = Swift.min(maxMessageSize - fixed - header, largest)
            if payload > (header == 2 ? 0 : header == 3 ? 255 : 65_535) { return payload }
        }
        return maxMessageSize - Chunk.maximumOverhead
    }

    /// How many chunks the transfer takes.
    public var count: Int { (data.readableBytes + chunkSize - 1) / chunkSize }

    public func makeIterator() -> Iterator { Iterator(splitter: self) }

    public struct Iterator: IteratorProtocol, Sendable {
        let splitter: ChunkSplitter
        var index = 0

        public mutating func next() -> Chunk? {
            let offset = index * splitter.chunkSize
            guard offset < splitter.data.readableBytes else { return nil }
            let length = Swift.min(splitter.chunkSize, splitter.data.readableBytes - offset)
            let slice = splitter.data.getSlice(at: splitter.data.readerIndex + offset, length: length)!
            defer { index += 1 }
            return Chunk(id: splitter.id, index: UInt32(index), data: slice)
        }
    }
}
