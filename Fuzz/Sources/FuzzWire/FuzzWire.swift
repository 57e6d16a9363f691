import FugitiveWire
import NIOCore

/// One fuzz input through every decoder that reads network bytes. Errors are expected;
/// a crash, a hang, or a value that does not survive re-encoding is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    if let value = try? MessagePackReader.decode(input, limits: MessagePackLimits(maxDepth: 32, maxInputSize: 1 << 20)) {
        let again = try? MessagePackReader.decode(value.encoded())
        precondition(again == value, "a decoded value did not survive re-encoding")
    }
    let server = WireCodec(limits: .serverLink)
    if let message = try? server.decodeServerMessage(input) {
        precondition((try? server.decodeServerMessage(server.encode(message))) == message, "server message round trip")
    }
    let peer = WireCodec(limits: .peerLink)
    if let message = try? peer.decodePeerMessage(input) {
        precondition((try? peer.decodePeerMessage(peer.encode(message))) == message, "peer message round trip")
        if case .head(let head) = message, var assembler = try? ChunkAssembler(head: head, configuration: .init(maxResourceSize: 1 << 20)) {
            for chunk in ChunkSplitter(id: head.id, data: ByteBuffer(repeating: 1, count: Int(head.transferLength)), maxMessageSize: Int(head.chunkSize) + Chunk.maximumOverhead) {
                try? assembler.append(chunk)
            }
        }
    }
    _ = try? MessagePackDecoder().decode([String: MessagePackValue].self, from: input)
    return 0
}
