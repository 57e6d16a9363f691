import FugitiveStore
import FugitiveTestSupport
import FugitiveWire
import NIOCore
import Testing

@testable import FugitivePeer

/// What a peer link answers a frame it cannot take (PROTOCOL.md, "Errors, limits and
/// timeouts on the peer link"): the `error` the document names, then the close — and a
/// text message, which is no part of the protocol, skipped without either.
extension HostilePeerTests {
    /// A frame the codec refuses, and the code it must be answered with.
    struct BrokenFrame: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let code: WireErrorCode
        var testDescription: String { name }

        static let all: [BrokenFrame] = [
            // Over the peer link's 16 KiB frame limit (SCTP itself would carry 256 KiB).
            BrokenFrame(name: "a 20 000-byte frame", bytes: [0x93, 0x01, 0x01] + [UInt8](repeating: 0xc0, count: 19_997), code: .frameTooLarge),
            // [1, 200, {}]: version 1 defines types 1–9.
            BrokenFrame(name: "type 200", bytes: [0x93, 0x01, 0xcc, 0xc8, 0x80], code: .unknownMessageType),
            // [99, 1, {}]
            BrokenFrame(name: "version 99", bytes: [0x93, 0x63, 0x01, 0x80], code: .unsupportedVersion),
            // [1, 1, {}]: a request without its id and digest.
            BrokenFrame(name: "a request without fields", bytes: [0x93, 0x01, 0x01, 0x80], code: .invalidField),
        ]
    }

    @Test(arguments: BrokenFrame.all) func anUndecodableFrameIsAnsweredWithItsCodeThenTheLinkCloses(_ frame: BrokenFrame) async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        try await hostile.send(bytes: frame.bytes)
        let error = try await hostile.nextError()
        #expect(error.code == frame.code && error.requestID == nil, "\(error)")
        try await hostile.waitUntilClosed()
    }

    @Test func aTextMessageIsSkippedAndTheLinkGoesOn() async throws {
        let hostile = try await HostileChannel()
        defer { hostile.close() }
        let bytes = PeerLinkTests.resource(50_000, seed: 10)
        let digest = try hostile.store.store(bytes)
        try await hostile.raw.send(.text("not a frame"))
        try await hostile.raw.send(.text(String(repeating: "x", count: 20_000)))
        try await hostile.send(.request(Request(id: 7, digest: digest)))
        let answer = await hostile.next(matching: { if case .head = $0 { true } else { false } })
        guard case .head(let head)? = answer else { throw TestFailure("no head after the text messages: \(String(describing: answer))") }
        #expect(head.id == 7 && head.contentLength == UInt64(bytes.count))
        #expect(hostile.drain { if case .error = $0 { true } else { false } }.isEmpty)
        #expect(!hostile.victim.isClosed)
    }
}
