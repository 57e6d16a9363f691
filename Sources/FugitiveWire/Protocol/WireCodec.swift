import NIOCore

/// Encodes and decodes the frames of both links.
///
/// A frame is one MessagePack array `[version, type, body]`: the protocol version (1),
/// the message type number, and the body map. Receivers refuse, with a ``WireError``:
/// frames over ``WireLimits/maxFrameSize`` (``WireErrorCode/frameTooLarge``), anything
/// that is not such an envelope (``WireErrorCode/malformedFrame``), another version
/// (``WireErrorCode/unsupportedVersion``), type numbers the version does not define
/// (``WireErrorCode/unknownMessageType``), and bodies with missing, mistyped or
/// oversized fields (``WireErrorCode/invalidField``). Unknown keys inside a body are
/// ignored, so a version can gain optional fields without a new number.
public struct WireCodec: Sendable {
    /// The protocol version this codec speaks.
    public static let version: UInt8 = 1

    /// Limits applied when decoding.
    public var limits: WireLimits

    public init(limits: WireLimits) {
        self.limits = limits
    }

    // MARK: Encoding

    public func encode(_ message: ServerMessage) -> ByteBuffer {
        if case .signal(let signal) = message {
            return Self.encodeSignal(signal)
        }
        return encodeEnvelope(type: message.type, body: message.body)
    }

    public func encode(_ message: PeerMessage) -> ByteBuffer {
        if case .chunk(let chunk) = message {
            return Self.encodeChunk(chunk)
        }
        return encodeEnvelope(type: message.type, body: message.body)
    }

    func encodeEnvelope(type: UInt8, body: some WireBody) -> ByteBuffer {
        var writer = MessagePackWriter()
        writer.writeArrayHeader(3)
        writer.writeUInt(UInt64(Self.version))
        writer.writeUInt(UInt64(type))
        // Bodies are plain structs whose encoding cannot fail.
        try! MessagePackEncoder().encode(body, into: &writer)
        return writer.buffer
    }

    /// The hot path: a chunk written directly, byte-identical to its `Codable` form.
    static func encodeChunk(_ chunk: Chunk) -> ByteBuffer {
        var writer = MessagePackWriter(buffer: ByteBuffer())
        writer.buffer.reserveCapacity(chunk.data.readableBytes + Chunk.maximumOverhead)
        writer.writeArrayHeader(3)
        writer.writeUInt(UInt64(version))
        writer.writeUInt(3)
        writer.writeMapHeader(3)
        writer.writeString("q")
        writer.writeUInt(UInt64(chunk.id))
        writer.writeString("i")
        writer.writeUInt(UInt64(chunk.index))
        writer.writeString("b")
        writer.writeBinary(chunk.data)
        return writer.buffer
    }

    // MARK: Decoding

    public func decodeServerMessage(_ frame: ByteBuffer) throws(WireError) -> ServerMessage {
        if let signal = decodeSignal(frame) {
            try signal.validate(limits)
            return .signal(signal)
        }
        return try decode(frame) { type, decodeBody in try ServerMessage.decodeBody(type: type, decodeBody) }
    }

    public func decodePeerMessage(_ frame: ByteBuffer) throws(WireError) -> PeerMessage {
        if let chunk = decodeChunk(frame) { return .chunk(chunk) }
        return try decode(frame) { type, decodeBody in try PeerMessage.decodeBody(type: type, decodeBody) }
    }

    /// The hot path: a chunk read field by field without building the frame's tree.
    /// Returns `nil` for anything but a well-formed v1 chunk envelope, leaving the
    /// general path to accept it or to report precisely what is wrong.
    func decodeChunk(_ frame: ByteBuffer) -> Chunk? {
        guard frame.readableBytes <= limits.maxFrameSize else { return nil }
        var reader = MessagePackReader(frame, limits: MessagePackLimits(maxDepth: limits.maxDepth, maxInputSize: limits.maxFrameSize))
        do {
            guard try reader.readArrayHeader() == 3,
                case .int(Int64(Self.version)) = try reader.readValue(depth: 1),
                case .int(3) = try reader.readValue(depth: 1),
                let fields = try reader.readMapHeader()
            else { return nil }
            var id: UInt32?
            var index: UInt32?
            var data: ByteBuffer?
            for _ in 0..<fields {
                let key = try reader.readValue(depth: 2)
                let value = try reader.readValue(depth: 2)
                guard case .string(let name) = key, name.utf8.count == 1 else { continue }
                switch (name, value) {
                case ("q", .int(let v)) where id == nil:
                    guard let v = UInt32(exactly: v) else { return nil }
                    id = v
                case ("i", .int(let v)) where index == nil:
                    guard let v = UInt32(exactly: v) else { return nil }
                    index = v
                case ("b", .binary(let v)) where data == nil: data = v
                case ("q", _), ("i", _), ("b", _): return nil
                default: continue
                }
            }
            guard reader.isAtEnd, let id, let index, let data else { return nil }
            return Chunk(id: id, index: index, data: data)
        } catch {
            return nil
        }
    }

    func decode<Message>(
        _ frame: ByteBuffer,
        _ select: (UInt8, (any WireBody.Type) throws -> any WireBody) throws -> Message?
    ) throws(WireError) -> Message {
        guard frame.readableBytes <= limits.maxFrameSize else {
            throw WireError(.frameTooLarge, "frame of \(frame.readableBytes) bytes, limit \(limits.maxFrameSize)")
        }
        let root: MessagePackValue
        do {
            root = try MessagePackReader.decode(frame, limits: MessagePackLimits(maxDepth: limits.maxDepth, maxInputSize: limits.maxFrameSize))
        } catch {
            throw WireError(.malformedFrame, error.description)
        }
        guard case .array(let envelope) = root, envelope.count == 3,
            case .int(let version) = envelope[0], case .int(let type) = envelope[1], case .map = envelope[2]
        else {
            throw WireError(.malformedFrame, "expected [version, type, body map], found \(root.typeName)")
        }
        guard version == Int64(Self.version) else {
            throw WireError(.unsupportedVersion, "version \(version), this side speaks \(Self.version)")
        }
        guard let type = UInt8(exactly: type) else { throw WireError(.unknownMessageType, "type \(type)") }
        var bodyType: (any WireBody.Type)?
        let message: Message?
        do {
            message = try select(type) { kind in
                bodyType = kind
                return try MessagePackDecoder().decode(kind, from: envelope[2])
            }
        } catch {
            let name = bodyType.map { "\($0)" } ?? "body"
            throw WireError(.invalidField, "\(name): \((error as? MessagePackError)?.detail ?? "\(error)")")
        }
        guard let message else { throw WireError(.unknownMessageType, "type \(type) is not defined in version \(Self.version)") }
        try (message as? ServerMessage)?.body.validate(limits)
        try (message as? PeerMessage)?.body.validate(limits)
        return message
    }
}

extension Chunk {
    /// The most bytes a chunk message adds around its payload: the envelope, the largest
    /// id and index, and a bin 32 header.
    /// `[1, 3, {"q": uint32, "i": uint32, "b": bin32}]`: 4 header bytes, two keys with
    /// uint 32 values (2 + 5 each), and the payload's key and bin 32 header (2 + 5).
    public static let maximumOverhead = 4 + 7 + 7 + 2 + 5
}
