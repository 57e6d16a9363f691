import Foundation
import NIOCore
import Testing

@testable import FugitiveWire

@Suite struct MessagePackCodableTests {
    struct Inner: Codable, Equatable {
        var name: String
        var tags: [String]
    }

    struct Everything: Codable, Equatable {
        enum Mode: String, Codable { case fast, slow }
        var bool: Bool
        var int8: Int8
        var int: Int
        var uint64: UInt64
        var float: Float
        var double: Double
        var string: String
        var bytes: [UInt8]
        var data: Data
        var buffer: ByteBuffer
        var date: Date
        var optional: Int?
        var mode: Mode
        var inner: Inner
        var nested: [[Int]]
        var dictionary: [String: Inner]
        var dynamic: MessagePackValue
    }

    let sample = Everything(
        bool: true, int8: -5, int: 1 << 40, uint64: .max, float: 0.25, double: -1e-300, string: "héllo ✓",
        bytes: [0, 1, 255], data: Data([9, 8]), buffer: ByteBuffer(bytes: [7]),
        date: Date(timeIntervalSince1970: 1_700_000_000.5), optional: nil, mode: .slow,
        inner: Inner(name: "n", tags: ["a", "b"]), nested: [[1], [], [2, 3]],
        dictionary: ["x": Inner(name: "x", tags: [])], dynamic: [1: .binary([1])]
    )

    @Test func roundTrip() throws {
        let encoded = try MessagePackEncoder().encode(sample)
        let decoded = try MessagePackDecoder().decode(Everything.self, from: encoded)
        #expect(decoded == sample)
    }

    @Test func bytesBecomeBinAndDatesTimestampsAndNilsAreOmitted() throws {
        let value = try MessagePackEncoder().encodeToValue(sample)
        #expect(value["bytes"] == .binary([0, 1, 255]))
        #expect(value["data"] == .binary([9, 8]))
        #expect(value["buffer"] == .binary([7]))
        #expect(value["date"] == .timestamp(MessagePackTimestamp(seconds: 1_700_000_000, nanoseconds: 500_000_000)))
        #expect(value["optional"] == nil)
        #expect(value["mode"] == "slow")
        #expect(value["uint64"] == .uint(.max))
    }

    @Test func typeMismatchNamesThePath() throws {
        let bytes = (["name": 5, "tags": []] as MessagePackValue).encoded()
        do {
            _ = try MessagePackDecoder().decode(Inner.self, from: bytes)
            Issue.record("decoded a number as a string")
        } catch let error as MessagePackError {
            #expect(error.code == .typeMismatch)
            #expect(error.detail.contains("name"))
        }
    }

    @Test func missingKeyAndOutOfRange() throws {
        #expect(throws: MessagePackError(.missingKey, offset: -1, "no key \"tags\" at <root>")) {
            try MessagePackDecoder().decode(Inner.self, from: (["name": "a"] as MessagePackValue).encoded())
        }
        do {
            _ = try MessagePackDecoder().decode(UInt8.self, from: MessagePackValue.int(300).encoded())
            Issue.record("300 decoded as UInt8")
        } catch let error as MessagePackError {
            #expect(error.code == .numberOutOfRange)
        }
    }

    @Test func duplicateKeysAreRefused() throws {
        let bytes: [UInt8] = [0x82, 0xa4] + Array("name".utf8) + [0xa1, 0x61, 0xa4] + Array("name".utf8) + [0xa1, 0x62]
        do {
            _ = try MessagePackDecoder().decode([String: String].self, from: bytes)
            Issue.record("duplicate key accepted")
        } catch let error as MessagePackError {
            #expect(error.code == .duplicateKey)
        }
    }

    @Test func largeDictionariesStayLinear() throws {
        let dictionary = Dictionary(uniqueKeysWithValues: (0..<50_000).map { ("k\($0)", $0) })
        let encoded = try MessagePackEncoder().encode(dictionary)
        let decoded = try MessagePackDecoder().decode([String: Int].self, from: encoded)
        #expect(decoded == dictionary)
    }

    @Test func trailingBytesAreAnError() throws {
        var bytes = try MessagePackEncoder().encode(5)
        bytes.writeInteger(UInt8(0))
        #expect(throws: MessagePackError.self) { try MessagePackDecoder().decode(Int.self, from: bytes) }
    }
}
