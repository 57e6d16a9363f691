import FugitiveTestSupport
import NIOCore
import Testing

@testable import FugitiveWire

/// The decoder on hostile input: typed errors with offsets, bounded work, no crash.
@Suite struct MessagePackHostileInputTests {
    func decode(_ bytes: [UInt8], limits: MessagePackLimits = .default) throws(MessagePackError) -> MessagePackValue {
        try MessagePackReader.decode(ByteBuffer(bytes: bytes), limits: limits)
    }

    func expectError(_ code: MessagePackError.Code, at offset: Int, _ bytes: [UInt8], limits: MessagePackLimits = .default) {
        do {
            let value = try decode(bytes, limits: limits)
            Issue.record("decoded \(value) from \(bytes.prefix(16)), expected \(code)")
        } catch {
            #expect(error.code == code)
            #expect(error.offset == offset)
        }
    }

    @Test func everyTruncationOfAValidEncodingFails() throws {
        let value: MessagePackValue = [
            "s": .string(String(repeating: "x", count: 300)), "b": .binary(Array(repeating: 1, count: 70_000)),
            "a": [1, -200, 70_000, 1.5, .float(2.5), nil, true], "t": .timestamp(.init(seconds: -5, nanoseconds: 3)),
            "e": .ext(type: 3, data: ByteBuffer(bytes: [1, 2, 3])),
        ]
        let full = Array(value.encoded().readableBytesView)
        #expect(try decode(full) == value)
        for length in stride(from: 0, to: full.count, by: 97) {
            #expect(throws: MessagePackError.self) { try decode(Array(full.prefix(length))) }
        }
        for length in full.count - 40..<full.count {
            #expect(throws: MessagePackError.self) { try decode(Array(full.prefix(length))) }
        }
    }

    @Test func truncatedHeaderReportsItsOffset() {
        expectError(.truncated, at: 0, [])
        // The offset is where the incomplete integer starts.
        expectError(.truncated, at: 3, [0x92, 0x01, 0xcd, 0x01])
        expectError(.truncated, at: 1, [0xcb, 0x01])
        expectError(.lengthExceedsInput, at: 0, [0x91])
    }

    @Test func hugeDeclaredLengthsFailBeforeAllocating() {
        expectError(.lengthExceedsInput, at: 0, [0xdd, 0xff, 0xff, 0xff, 0xff])
        expectError(.lengthExceedsInput, at: 0, [0xdf, 0xff, 0xff, 0xff, 0xff, 0x01])
        expectError(.lengthExceedsInput, at: 0, [0xc6, 0xff, 0xff, 0xff, 0xff, 0x00])
        expectError(.lengthExceedsInput, at: 1, [0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff])
        expectError(.lengthExceedsInput, at: 0, [0xc9, 0xff, 0xff, 0xff, 0xff, 0x05])
        // A map of n entries needs at least 2n bytes.
        expectError(.lengthExceedsInput, at: 0, [0x83, 0x01, 0x02, 0x03, 0x04, 0x05])
    }

    @Test func neverUsedByte() {
        expectError(.invalidFormat, at: 3, [0x93, 0x01, 0x02, 0xc1])
    }

    @Test func trailingBytes() {
        expectError(.trailingBytes, at: 1, [0x01, 0x02])
    }

    @Test func invalidUTF8() {
        expectError(.invalidUTF8, at: 1, [0x91, 0xa2, 0xc3, 0x28])
        expectError(.invalidUTF8, at: 0, [0xa3, 0xed, 0xa0, 0x80])  // a UTF-16 surrogate
    }

    @Test func invalidTimestamps() {
        expectError(.invalidTimestamp, at: 0, [0xd5, 0xff, 0x00, 0x00])
        // 64-bit form with nanoseconds ≥ 10^9 (the top 30 bits all set).
        expectError(.invalidTimestamp, at: 0, [0xd7, 0xff, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, 0])
    }

    @Test func depthLimit() throws {
        let deep = Array(repeating: UInt8(0x91), count: 10_000) + [0xc0]
        expectError(.depthLimitExceeded, at: 32, deep)
        let ok = Array(repeating: UInt8(0x91), count: 5) + [0xc0]
        #expect(try decode(ok, limits: .init(maxDepth: 5)) != .nil)
        expectError(.depthLimitExceeded, at: 4, ok, limits: .init(maxDepth: 4))
    }

    @Test func sizeLimit() {
        expectError(.sizeLimitExceeded, at: 0, [0xc4, 0x03, 1, 2, 3], limits: .init(maxInputSize: 4))
    }

    /// A random-mutation fuzzer kept as a quick regression test; the long coverage-guided
    /// run is `scripts/fuzz-wire` (libFuzzer), in CI.
    @Test func randomMutationsNeverCrash() throws {
        var rng = SplitMix64(seed: 0xF0_61_71)
        let seedValue: MessagePackValue = [
            "q": 7, "i": 3, "b": .binary(Array(repeating: 9, count: 40)), "m": [1: [nil, "x"]],
            "t": .timestamp(.init(seconds: 12, nanoseconds: 5)), "f": .float(1), "d": -1e300,
        ]
        let seed = Array(seedValue.encoded().readableBytesView)
        var decoded = 0
        for _ in 0..<20_000 {
            var input = seed
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !input.isEmpty: input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1 where !input.isEmpty: input.remove(at: Int.random(in: 0..<input.count, using: &rng))
                case 2: input.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...input.count, using: &rng))
                default: input = Array(input.prefix(Int.random(in: 0...input.count, using: &rng)))
                }
            }
            if let value = try? decode(input) {
                decoded += 1
                // Whatever decodes re-encodes and decodes to the same value.
                #expect(try decode(Array(value.encoded().readableBytesView)) == value)
            }
        }
        #expect(decoded > 0)
    }
}
