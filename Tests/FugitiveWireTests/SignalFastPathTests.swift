@testable import FugitiveWire
import NIOCore
import Testing

/// The signal fast path must be indistinguishable from the `Codable` path: same bytes
/// out, same values in, and for any damaged frame either the same value or a fallback.
@Suite("Signal fast path")
struct SignalFastPathTests {
    let codec = WireCodec(limits: .serverLink)

    func general(_ frame: ByteBuffer) -> Result<ServerMessage, WireError> {
        do {
            return .success(try codec.decode(frame) { type, body in try ServerMessage.decodeBody(type: type, body) })
        } catch {
            return .failure(error)
        }
    }

    func randomText(_ g: inout some RandomNumberGenerator, max: Int) -> String {
        let alphabet = Array("abcXYZ09 :=.-/+é€😀\n\"")
        return String((0..<Int.random(in: 0...max, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
    }

    func randomSignal(_ g: inout some RandomNumberGenerator) -> Signal {
        Signal(
            peer: PeerID(randomText(&g, max: 20)), kind: [.offer, .answer, .candidate, .endOfCandidates].randomElement(using: &g)!,
            sdp: Bool.random(using: &g) ? randomText(&g, max: 400) : nil,
            candidate: Bool.random(using: &g) ? randomText(&g, max: 120) : nil,
            mid: Bool.random(using: &g) ? randomText(&g, max: 4) : nil)
    }

    @Test func bytesAndValuesAgreeWithCodable() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let signal = randomSignal(&g)
            let fast = WireCodec.encodeSignal(signal)
            let slow = codec.encodeEnvelope(type: 6, body: signal)
            #expect(fast == slow)
            let decoded = codec.decodeSignal(fast)
            #expect(decoded == signal)
            switch general(fast) {
            case .success(let message): #expect(message == .signal(signal))
            case .failure(let error):
                #expect(throws: WireError.self) { try signal.validate(codec.limits) }
                _ = error
            }
        }
    }

    @Test func damagedFramesDecodeAlikeOrFallBack() {
        var g = SystemRandomNumberGenerator()
        var fastHits = 0
        for _ in 0..<20_000 {
            var bytes = Array(WireCodec.encodeSignal(randomSignal(&g)).readableBytesView)
            switch Int.random(in: 0..<3, using: &g) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g)))
            case 1: bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
            default: bytes.insert(UInt8.random(in: 0...255, using: &g), at: Int.random(in: 0...bytes.count, using: &g))
            }
            let frame = ByteBuffer(bytes: bytes)
            guard let fast = codec.decodeSignal(frame) else { continue }
            fastHits += 1
            let fastResult: Result<ServerMessage, WireError> = Result { () throws(WireError) in
                try fast.validate(codec.limits)
                return .signal(fast)
            }
            switch (fastResult, general(frame)) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure(let a), .failure(let b)): #expect(a.code == b.code)
            case (let a, let b): Issue.record("fast \(a) but general \(b) for \(bytes)")
            }
        }
        #expect(fastHits > 1000)
    }
}
