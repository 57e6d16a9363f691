import NIOCore
import Testing

@testable import FugitiveWire

/// Byte-level checks of every format family against the specification.
@Suite struct MessagePackFormatTests {
    func bytes(_ value: MessagePackValue) -> [UInt8] { Array(value.encoded().readableBytesView) }

    func decode(_ bytes: [UInt8], limits: MessagePackLimits = .default) throws -> MessagePackValue {
        try MessagePackReader.decode(ByteBuffer(bytes: bytes), limits: limits)
    }

    @Test(
        arguments: [
            (Int64(0), [0x00]), (127, [0x7f]), (128, [0xcc, 0x80]), (255, [0xcc, 0xff]), (256, [0xcd, 0x01, 0x00]),
            (65_535, [0xcd, 0xff, 0xff]), (65_536, [0xce, 0x00, 0x01, 0x00, 0x00]),
            (4_294_967_296, [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            (-1, [0xff]), (-32, [0xe0]), (-33, [0xd0, 0xdf]), (-128, [0xd0, 0x80]), (-129, [0xd1, 0xff, 0x7f]),
            (-32_768, [0xd1, 0x80, 0x00]), (-32_769, [0xd2, 0xff, 0xff, 0x7f, 0xff]),
            (Int64.min, [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ] as [(Int64, [UInt8])])
    func integersUseTheSmallestForm(value: Int64, expected: [UInt8]) throws {
        #expect(bytes(.int(value)) == expected)
        #expect(try decode(expected) == .int(value))
    }

    @Test func uint64AboveInt64MaxStaysUnsigned() throws {
        let encoded = bytes(.uint(UInt64.max))
        #expect(encoded == [0xcf] + Array(repeating: 0xff, count: 8))
        #expect(try decode(encoded) == .uint(UInt64.max))
        #expect(MessagePackValue.integer(5) == .int(5))
        #expect(MessagePackValue.uint(5) == .int(5))
    }

    @Test func nonMinimalIntegersDecodeToTheSameValue() throws {
        #expect(try decode([0xd3, 0, 0, 0, 0, 0, 0, 0, 5]) == .int(5))
        #expect(try decode([0xcd, 0x00, 0x05]) == .int(5))
    }

    @Test func scalars() throws {
        #expect(bytes(.nil) == [0xc0])
        #expect(bytes(.bool(false)) == [0xc2])
        #expect(bytes(.bool(true)) == [0xc3])
        #expect(bytes(.float(1.5)) == [0xca, 0x3f, 0xc0, 0x00, 0x00])
        #expect(bytes(.double(1.5)) == [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])
        #expect(try decode([0xca, 0x7f, 0xc0, 0x00, 0x00]) == .float(.nan))
    }

    @Test(arguments: [0, 31, 32, 255, 256, 65_535, 65_536])
    func stringAndBinaryHeaders(length: Int) throws {
        let string = String(repeating: "a", count: length)
        let strHeader: [UInt8] =
            length < 32
            ? [0xa0 | UInt8(length)]
            : length < 256
                ? [0xd9, UInt8(length)]
                : length < 65_536
                    ? [0xda, UInt8(length >> 8), UInt8(length & 0xff)]
                    : [0xdb, 0, UInt8(length >> 16), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        let encoded = bytes(.string(string))
        #expect(Array(encoded.prefix(strHeader.count)) == strHeader)
        #expect(try decode(encoded) == .string(string))

        let binHeader: [UInt8] =
            length < 256
            ? [0xc4, UInt8(length)]
            : length < 65_536
                ? [0xc5, UInt8(length >> 8), UInt8(length & 0xff)]
                : [0xc6, 0, UInt8(length >> 16), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        let bin = bytes(.binary(Array(repeating: 7, count: length)))
        #expect(Array(bin.prefix(binHeader.count)) == binHeader)
        #expect(try decode(bin) == .binary(Array(repeating: UInt8(7), count: length)))
    }

    @Test(arguments: [0, 15, 16, 65_535, 65_536])
    func containerHeaders(count: Int) throws {
        let array = MessagePackValue.array(Array(repeating: .nil, count: count))
        let encoded = bytes(array)
        let header: [UInt8] =
            count < 16
            ? [0x90 | UInt8(count)]
            : count < 65_536
                ? [0xdc, UInt8(count >> 8), UInt8(count & 0xff)]
                : [0xdd, 0, UInt8(count >> 16), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
        #expect(Array(encoded.prefix(header.count)) == header)
        #expect(try decode(encoded) == array)

        let map = MessagePackValue.map((0..<count).map { (key: .int(Int64($0)), value: .nil) })
        let mapBytes = bytes(map)
        #expect(mapBytes[0] == (count < 16 ? 0x80 | UInt8(count) : count < 65_536 ? 0xde : 0xdf))
        #expect(try decode(mapBytes) == map)
    }

    @Test(arguments: [(0, 0xc7), (1, 0xd4), (2, 0xd5), (3, 0xc7), (4, 0xd6), (8, 0xd7), (16, 0xd8), (17, 0xc7), (256, 0xc8), (65_536, 0xc9)])
    func extensionForms(length: Int, format: UInt8) throws {
        let value = MessagePackValue.ext(type: 42, data: ByteBuffer(repeating: 1, count: length))
        let encoded = bytes(value)
        #expect(encoded[0] == format)
        #expect(try decode(encoded) == value)
    }

    @Test func timestampForms() throws {
        let t32 = MessagePackTimestamp(seconds: 1_700_000_000)
        #expect(bytes(.timestamp(t32)).prefix(2) == [0xd6, 0xff])
        let t64 = MessagePackTimestamp(seconds: 1_700_000_000, nanoseconds: 5)
        #expect(bytes(.timestamp(t64)).prefix(2) == [0xd7, 0xff])
        let t96 = MessagePackTimestamp(seconds: -1, nanoseconds: 999_999_999)
        #expect(bytes(.timestamp(t96)).prefix(3) == [0xc7, 12, 0xff])
        let big = MessagePackTimestamp(seconds: 1 << 34)
        #expect(bytes(.timestamp(big)).prefix(3) == [0xc7, 12, 0xff])
        for t in [t32, t64, t96, big] {
            #expect(try decode(bytes(.timestamp(t))) == .timestamp(t))
        }
    }

    @Test func mapsKeepOrderAndAnyKeyType() throws {
        let map: MessagePackValue = [1: "one", "b": [true, nil], 2.5: .binary([1, 2])]
        let decoded = try decode(bytes(map))
        #expect(decoded == map)
        #expect(decoded["b"] == [true, nil])
    }
}
