import Foundation
import NIOCore
import Testing

@testable import FugitiveWire

@Suite struct WireMessageTests {
    static let digest = ResourceDigest(bytes: (0..<32).map { UInt8($0) })!
    let server = WireCodec(limits: .serverLink)
    let peer = WireCodec(limits: .peerLink)

    static let serverMessages: [ServerMessage] = [
        .hello(Hello(swarm: "https://cdn.example", targetPeers: 4, maxPeers: 8, resumeToken: "tok", agent: "fugitive/0.1")),
        .hello(Hello(swarm: "s", targetPeers: 0, maxPeers: 0)),
        .welcome(
            Welcome(
                peer: "p1", resumeToken: "r", resumed: true,
                iceServers: [ICEServer(urls: ["stun:stun.example:3478"]), ICEServer(urls: ["turn:t"], username: "u", credential: "c")],
                heartbeatMillis: 15_000)),
        .want(Want(count: 3, digests: [digest])),
        .want(Want(count: 1)),
        .want(Want(count: 1, digests: [digest], peers: ["holder"])),
        .pair(Pair(peer: "p2", offerer: true)),
        .unpair(Unpair(peer: "p2", reason: .pairTimeout)),
        .signal(Signal(peer: "p2", kind: .offer, sdp: "v=0\r\n")),
        .signal(Signal(peer: "p2", kind: .candidate, candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", mid: "0")),
        .signal(Signal(peer: "p2", kind: .endOfCandidates)),
        .link(LinkReport(peer: "p2", state: .connected, rttMillis: 1.25)),
        .link(LinkReport(peer: "p2", state: .failed)),
        .link(LinkReport(peer: "p2", state: .connected, route: LinkRoute(local: .srflx, remote: .relay))),
        .peerLeft(PeerLeft(peer: "p3")),
        .have(Have(holdings: [Holding(digest: digest, url: "https://o/x.png", size: 1234)])),
        .drop(Drop(digests: [digest])),
        .whoHas(WhoHas(requestID: 9, digest: digest, limit: 4)),
        .whoHas(WhoHas(requestID: 10, url: "https://o/y", limit: 1)),
        .holders(Holders(requestID: 9, digest: digest, peers: ["a", "b"])),
        .vouch(Vouch(requestID: 11, url: "https://o/z")),
        .vouched(Vouched(requestID: 11, url: "https://o/z", digest: digest, size: .max)),
        .vouched(Vouched(requestID: 12, url: "https://o/z", digest: digest, size: 5, pieceRoot: digest, pieceSize: 1 << 20)),
        .ping(Heartbeat(nonce: .max)),
        .pong(Heartbeat(nonce: 0)),
        .iceServers(IceServerUpdate(iceServers: [ICEServer(urls: ["turns:turn.example.org:5349"], username: "1700000000:p1", credential: "c")])),
        .error(ErrorMessage(code: .notPaired, message: "p9 is not your partner", requestID: 4)),
        .report(DeliveryReport(fromOrigin: 1 << 40, fromPeers: 0, served: 12_345)),
        .report(DeliveryReport(fromOrigin: 0, fromPeers: 7, served: 12_345, servedRelayed: 4_096)),
    ]

    static let peerMessages: [PeerMessage] = [
        .request(Request(id: 1, digest: digest, url: "https://o/x", acceptsDeflate: false)),
        .head(ResponseHead(id: 1, transferLength: 100, contentLength: 300, encoding: .deflate, chunkSize: 16_000, contentType: "image/png")),
        .head(ResponseHead(id: 1, transferLength: 0, contentLength: 0, encoding: .identity, chunkSize: 0)),
        .chunk(Chunk(id: 1, index: 0, data: ByteBuffer(bytes: [1, 2, 3]))),
        .chunk(Chunk(id: .max, index: .max, data: ByteBuffer(repeating: 0xab, count: ChunkSplitter.payloadSize()))),
        .miss(RequestRef(id: 2)),
        .busy(Busy(id: 3, retryAfterMillis: 500)),
        .cancel(RequestRef(id: 4)),
        .ping(Heartbeat(nonce: 1)),
        .pong(Heartbeat(nonce: 1)),
        .error(ErrorMessage(code: .digestMismatch, message: "bad bytes")),
    ]

    /// The browser peer (`fugitive.js`, served by the orchestrator) spells the protocol's
    /// numbers again in JavaScript, in its wire module (`fugitive/wire.js`): every message
    /// type number and the chunk sizes must be Swift's.
    @Test func theBrowserPeersConstantsAreSwifts() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/FugitiveServer/Browser/fugitive/wire.js")
        let script = try String(contentsOf: path, encoding: .utf8)
        func table(_ name: String) throws -> [String: UInt8] {
            let start = try #require(script.range(of: "export const \(name) = Object.freeze({"), "\(name) not found in fugitive/wire.js")
            let end = try #require(script[start.upperBound...].range(of: "})"))
            var entries: [String: UInt8] = [:]
            for entry in script[start.upperBound..<end.lowerBound].split(separator: ",") {
                let parts = entry.split(separator: ":").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                guard parts.count == 2, let number = UInt8(parts[1]) else { continue }
                entries[parts[0]] = number
            }
            return entries
        }
        func swiftTypes(_ names: [(String, UInt8)]) -> [String: UInt8] { Dictionary(names, uniquingKeysWith: { first, _ in first }) }
        let server = swiftTypes(Self.serverMessages.map { (String(describing: $0).prefix { $0 != "(" }.description, $0.type) })
        let peer = swiftTypes(Self.peerMessages.map { (String(describing: $0).prefix { $0 != "(" }.description, $0.type) })
        #expect(server.count == 19 && peer.count == 9, "the samples cover every message type")
        #expect(try table("ServerType") == server)
        #expect(try table("PeerType") == peer)
        let maxMessage = try #require(script.firstMatch(of: /export const MAX_MESSAGE = (\d+);/).flatMap { Int($0.1) })
        #expect(maxMessage == ChunkSplitter.defaultMaxMessageSize)
        let overhead = try #require(script.firstMatch(of: /const CHUNK_PAYLOAD = MAX_MESSAGE - (\d+);/).flatMap { Int($0.1) })
        #expect(maxMessage - overhead == ChunkSplitter.payloadSize(), "a full chunk's payload")
    }

    @Test(arguments: serverMessages)
    func serverMessagesRoundTrip(message: ServerMessage) throws {
        let frame = server.encode(message)
        #expect(try server.decodeServerMessage(frame) == message)
        guard case .array(let envelope) = try MessagePackReader.decode(frame) else {
            Issue.record("not an array")
            return
        }
        #expect(envelope[0] == .int(1))
        #expect(envelope[1] == .int(Int64(message.type)))
    }

    @Test(arguments: peerMessages)
    func peerMessagesRoundTrip(message: PeerMessage) throws {
        let frame = peer.encode(message)
        #expect(frame.readableBytes <= 16_384)
        #expect(try peer.decodePeerMessage(frame) == message)
    }

    @Test func chunkOverheadIsExact() {
        let largest = WireCodec.encodeChunk(Chunk(id: .max, index: .max, data: ByteBuffer(repeating: 0, count: 70_000)))
        #expect(largest.readableBytes - 70_000 == Chunk.maximumOverhead)
    }

    @Test func chunkFastPathMatchesCodable() throws {
        for chunk in [Chunk(id: 0, index: 0, data: ByteBuffer()), Chunk(id: 300, index: 70_000, data: ByteBuffer(repeating: 1, count: 300))] {
            var writer = MessagePackWriter()
            writer.writeArrayHeader(3)
            writer.writeUInt(1)
            writer.writeUInt(3)
            try MessagePackEncoder().encode(chunk, into: &writer)
            #expect(WireCodec.encodeChunk(chunk) == writer.buffer)
        }
    }

    @Test func chunkFastDecodeAgreesWithTheGeneralPath() throws {
        let data = MessagePackValue.binary([1, 2, 3])
        // Reordered keys, a non-minimal integer, an unknown key: the fast path takes them.
        let missingID = frame([1, 3, ["b": data, "x": [1, [2]], "i": 5]])
        var manual = MessagePackWriter()
        manual.writeArrayHeader(3)
        manual.writeUInt(1)
        manual.writeUInt(3)
        manual.writeMapHeader(4)
        manual.write("b"); manual.write(data)
        manual.write("x"); manual.write([1, [2]])
        manual.write("i"); manual.write(5)
        manual.write("q"); manual.buffer.writeMultipleIntegers(UInt8(0xd3), Int64(9))
        let expected = Chunk(id: 9, index: 5, data: ByteBuffer(bytes: [1, 2, 3]))
        #expect(peer.decodeChunk(manual.buffer) == expected)
        #expect(try peer.decodePeerMessage(manual.buffer) == .chunk(expected))
        // Anything irregular falls back to the general path and its precise errors.
        #expect(peer.decodeChunk(missingID) == nil)
        expectPeerRefusal(.invalidField, missingID)
        expectPeerRefusal(.invalidField, frame([1, 3, ["q": 1, "i": -1, "b": data]]))
        expectPeerRefusal(.invalidField, frame([1, 3, ["q": 1, "i": 1, "b": "text"]]))
        // A duplicate key is refused even when its first value was out of range.
        var duplicate = MessagePackWriter()
        duplicate.writeArrayHeader(3)
        duplicate.writeUInt(1)
        duplicate.writeUInt(3)
        duplicate.writeMapHeader(4)
        duplicate.write("q"); duplicate.write(-1)
        duplicate.write("q"); duplicate.write(2)
        duplicate.write("i"); duplicate.write(0)
        duplicate.write("b"); duplicate.write(data)
        #expect(peer.decodeChunk(duplicate.buffer) == nil)
        expectPeerRefusal(.invalidField, duplicate.buffer)
        var trailing = peer.encode(.chunk(expected))
        trailing.writeInteger(UInt8(0))
        expectPeerRefusal(.malformedFrame, trailing)
    }

    func expectPeerRefusal(_ code: WireErrorCode, _ frame: ByteBuffer) {
        do {
            let message = try peer.decodePeerMessage(frame)
            Issue.record("accepted \(message), expected \(code)")
        } catch {
            #expect(error.code == code, "\(error)")
        }
    }

    func expectRefusal(_ code: WireErrorCode, _ frame: ByteBuffer, codec: WireCodec? = nil) {
        do {
            let message = try (codec ?? server).decodeServerMessage(frame)
            Issue.record("accepted \(message), expected \(code)")
        } catch {
            #expect(error.code == code, "\(error)")
        }
    }

    func frame(_ value: MessagePackValue) -> ByteBuffer { value.encoded() }

    @Test func truncatedFramesAreMalformed() {
        for message in Self.serverMessages {
            let full = server.encode(message)
            for length in 0..<full.readableBytes {
                expectRefusal(.malformedFrame, full.getSlice(at: 0, length: length)!)
            }
        }
    }

    @Test func oversizedFramesAreRefusedBeforeParsing() {
        let big = server.encode(.signal(Signal(peer: "p", kind: .offer, sdp: String(repeating: "a", count: 70_000))))
        expectRefusal(.frameTooLarge, big)
        let chunk = WireCodec(limits: .serverLink).encode(PeerMessage.chunk(Chunk(id: 1, index: 0, data: ByteBuffer(repeating: 0, count: 17_000))))
        #expect(throws: WireError.self) { try peer.decodePeerMessage(chunk) }
    }

    @Test func envelopeShape() {
        expectRefusal(.malformedFrame, frame(["not", "an", "envelope"]))
        expectRefusal(.malformedFrame, frame([1, 15]))
        expectRefusal(.malformedFrame, frame([1, 15, [1]]))
        expectRefusal(.unsupportedVersion, frame([2, 15, ["n": 1]]))
        expectRefusal(.unknownMessageType, frame([1, 99, [:]]))
        expectRefusal(.unknownMessageType, frame([1, 1000, [:]]))
    }

    @Test func wrongTypedAndMissingFieldsAreInvalid() {
        expectRefusal(.invalidField, frame([1, 15, ["n": "one"]]))
        expectRefusal(.invalidField, frame([1, 15, ["n": -1]]))
        expectRefusal(.invalidField, frame([1, 1, ["s": "swarm", "t": 4]]))
        expectRefusal(.invalidField, frame([1, 9, ["h": [["d": .binary([1, 2]), "u": "x", "n": 1]]]]))
        expectRefusal(.invalidField, frame([1, 6, ["p": "x", "k": 9]]))
        // Unknown keys are ignored: a version may grow optional fields.
        #expect((try? server.decodeServerMessage(frame([1, 15, ["n": 1, "future": true]]))) == .ping(Heartbeat(nonce: 1)))
    }

    @Test func aVouchedRootComesWithAPieceSizeAndAnOlderServersVouchedStillReads() {
        let digest = ResourceDigest(bytes: [UInt8](repeating: 3, count: 32))!
        expectRefusal(.invalidField, server.encode(.vouched(Vouched(requestID: 1, url: "u", digest: digest, size: 1, pieceRoot: digest))))
        expectRefusal(
            .invalidField, server.encode(.vouched(Vouched(requestID: 1, url: "u", digest: digest, size: 1, pieceRoot: digest, pieceSize: 24_576))))
        let older = frame([1, 14, ["q": 1, "u": "u", "d": .binary(digest.bytes), "n": 1]])
        #expect((try? server.decodeServerMessage(older)) == .vouched(Vouched(requestID: 1, url: "u", digest: digest, size: 1)))
    }

    @Test func limitsAreEnforced() {
        let limits = WireLimits.serverLink
        expectRefusal(
            .invalidField,
            server.encode(.hello(Hello(swarm: String(repeating: "s", count: limits.maxSwarmKeyLength + 1), targetPeers: 1, maxPeers: 1))))
        expectRefusal(.invalidField, server.encode(.hello(Hello(swarm: "", targetPeers: 1, maxPeers: 1))))
        expectRefusal(.invalidField, server.encode(.hello(Hello(swarm: "s", targetPeers: 9, maxPeers: 8))))
        expectRefusal(.invalidField, server.encode(.want(Want(count: 0))))
        expectRefusal(.invalidField, server.encode(.want(Want(count: limits.maxPeerCount + 1))))
        expectRefusal(.invalidField, server.encode(.signal(Signal(peer: "p", kind: .offer))))
        expectRefusal(.invalidField, server.encode(.signal(Signal(peer: "p", kind: .candidate, candidate: String(repeating: "c", count: 2000)))))
        expectRefusal(.invalidField, server.encode(.whoHas(WhoHas(requestID: 1, limit: 1))))
        expectRefusal(.invalidField, server.encode(.link(LinkReport(peer: "p", state: .connected, rttMillis: -.infinity))))
        let many = Have(holdings: Array(repeating: Holding(digest: Self.digest, url: "u", size: 1), count: limits.maxListCount + 1))
        expectRefusal(.invalidField, server.encode(.have(many)))
        expectRefusal(.invalidField, server.encode(.vouch(Vouch(requestID: 1, url: String(repeating: "u", count: 5000)))))
    }

    @Test func peerLinkHeadIsChecked() throws {
        let bad = peer.encode(.head(ResponseHead(id: 1, transferLength: 10, contentLength: 20, encoding: .identity, chunkSize: 5)))
        #expect(throws: WireError(.invalidField, "identity transfer of 10 bytes for content of 20")) { try peer.decodePeerMessage(bad) }
    }

    @Test func digestText() {
        #expect(ResourceDigest(Self.digest.description) == Self.digest)
        #expect(ResourceDigest(Self.digest.hex.uppercased()) == Self.digest)
        #expect(ResourceDigest("sha256:zz") == nil)
        #expect(Self.digest.description == "sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    }
}
