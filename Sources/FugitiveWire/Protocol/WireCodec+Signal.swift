import NIOCore

/// The orchestrator's hot path: every offer, answer and ICE candidate of every peer
/// passes through the server as a `signal` message. Like the chunk, it is written and
/// read field by field, byte-identical to its `Codable` form; anything irregular falls
/// back to the general path, which reports precisely what is wrong.
extension WireCodec {
    static let signalType: UInt8 = 6

    static func encodeSignal(_ signal: Signal) -> ByteBuffer {
        var writer = MessagePackWriter(buffer: ByteBuffer())
        writer.buffer.reserveCapacity(
            32 + signal.peer.rawValue.utf8.count + (signal.sdp?.utf8.count ?? 0)
                + (signal.candidate?.utf8.count ?? 0) + (signal.mid?.utf8.count ?? 0))
        writer.writeArrayHeader(3)
        writer.writeUInt(UInt64(version))
        writer.writeUInt(UInt64(signalType))
        // Key order and omitted optionals as the synthesized `Codable` conformance writes them.
        writer.writeMapHeader(2 + (signal.sdp == nil ? 0 : 1) + (signal.candidate == nil ? 0 : 1) + (signal.mid == nil ? 0 : 1))
        writer.writeString("p")
        writer.writeString(signal.peer.rawValue)
        writer.writeString("k")
        writer.writeUInt(UInt64(signal.kind.rawValue))
        if let sdp = signal.sdp {
            writer.writeString("s")
            writer.writeString(sdp)
        }
        if let candidate = signal.candidate {
            writer.writeString("c")
            writer.writeString(candidate)
        }
        if let mid = signal.mid {
            writer.writeString("m")
            writer.writeString(mid)
        }
        return writer.buffer
    }

    /// A well-formed v1 signal envelope, or `nil` (leave it to the general path).
    func decodeSignal(_ frame: ByteBuffer) -> Signal? {
        guard frame.readableBytes <= limits.maxFrameSize,
            frame.readableBytes > 3, frame.getInteger(at: frame.readerIndex + 2, as: UInt8.self) == Self.signalType
        else { return nil }
        var reader = MessagePackReader(frame, limits: MessagePackLimits(maxDepth: limits.maxDepth, maxInputSize: limits.maxFrameSize))
        do {
            guard try reader.readArrayHeader() == 3,
                case .int(Int64(Self.version)) = try reader.readValue(depth: 1),
                case .int(Int64(Self.signalType)) = try reader.readValue(depth: 1),
                let fields = try reader.readMapHeader()
            else { return nil }
            var peer: String?
            var kind: SignalKind?
            var sdp: String?
            var candidate: String?
            var mid: String?
            var seen: UInt8 = 0
            for _ in 0..<fields {
                let key = try reader.readValue(depth: 2)
                let value = try reader.readValue(depth: 2)
                guard case .string(let name) = key, name.utf8.count == 1 else { continue }
                let bit: UInt8 =
                    switch name {
                    case "p": 1;
                    case "k": 2;
                    case "s": 4;
                    case "c": 8;
                    case "m": 16;
                    default: 0
                    }
                guard seen & bit == 0 else { return nil }
                seen |= bit
                switch (name, value) {
                case ("p", .string(let v)): peer = v
                case ("k", .int(let v)):
                    guard let raw = UInt8(exactly: v), let k = SignalKind(rawValue: raw) else { return nil }
                    kind = k
                case ("s", .string(let v)): sdp = v
                case ("c", .string(let v)): candidate = v
                case ("m", .string(let v)): mid = v
                case ("s", .nil), ("c", .nil), ("m", .nil): continue
                case ("p", _), ("k", _), ("s", _), ("c", _), ("m", _): return nil
                default: continue
                }
            }
            guard reader.isAtEnd, let peer, let kind else { return nil }
            return Signal(peer: PeerID(peer), kind: kind, sdp: sdp, candidate: candidate, mid: mid)
        } catch {
            return nil
        }
    }
}
