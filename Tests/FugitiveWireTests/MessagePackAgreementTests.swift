import Foundation
import FugitiveTestSupport
import NIOCore
import Testing

@testable import FugitiveWire

/// Agreement with the reference implementation, Python's `msgpack` (C extension), in
/// both directions. Needs the test venv that `scripts/bootstrap` creates.
@Suite(.serialized) struct MessagePackAgreementTests {
    static let perCategory = 2_000
    static let limits = MessagePackLimits(maxDepth: 32, maxInputSize: 64 << 20)

    @Test func referenceEncodingsDecodeAndReencodeByteForByte() throws {
        let file = Interop.temporaryFile("python-corpus")
        defer { try? FileManager.default.removeItem(at: file) }
        let summary = try Interop.python([
            "msgpack_agreement.py", "generate", "--seed", "20261125", "--count", "\(Self.perCategory)", "--out", file.path,
        ])
        let records = try Interop.readRecords(file)
        #expect(records.count == summary["records"] as? Int)
        #expect(records.count >= Self.perCategory * 12)
        var mismatches = 0
        for (index, record) in records.enumerated() {
            let value = try MessagePackReader.decode(record, limits: Self.limits)
            if value.encoded() != record {
                mismatches += 1
                if mismatches < 5 { Issue.record("record \(index) re-encodes differently: \(Array(record.readableBytesView.prefix(24)))") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func swiftEncodingsAgreeWithTheReference() throws {
        var rng = SplitMix64(seed: 0x5EED)
        var generator = RandomMessagePack()
        var values: [MessagePackValue] = generator.edgeCases()
        for category in RandomMessagePack.Category.allCases {
            for _ in 0..<Self.perCategory { values.append(generator.value(category, using: &rng)) }
        }
        let file = Interop.temporaryFile("swift-corpus")
        defer { try? FileManager.default.removeItem(at: file) }
        try Interop.writeRecords(values.map { $0.encoded() }, to: file)

        let summary = try Interop.python(["msgpack_agreement.py", "check", "--in", file.path])
        #expect(summary["records"] as? Int == values.count)
        #expect(summary["failures"] as? Int == 0, "\(summary["firstFailures"] ?? "")")
        // Only float 32 values may differ in bytes: the reference re-packs them as float 64.
        let withFloat32 = values.filter(\.containsFloat32).count
        let valueOnly = summary["valueOnly"] as? Int ?? .max
        #expect(valueOnly <= withFloat32)
        #expect((summary["byteExact"] as? Int ?? 0) + valueOnly == values.count)
    }
}

extension MessagePackValue {
    var containsFloat32: Bool {
        switch self {
        case .float: true
        case .array(let a): a.contains(where: \.containsFloat32)
        case .map(let m): m.contains { $0.key.containsFloat32 || $0.value.containsFloat32 }
        default: false
        }
    }
}

/// Random values of every MessagePack type, with the edge widths the format has.
struct RandomMessagePack {
    enum Category: CaseIterable { case nil_, bool, int, uint64, float32, float64, str, bin, array, map, ext, timestamp, nested }

    static let lengths = [0, 1, 15, 16, 31, 32, 127, 128, 255, 256, 65_535, 65_536]
    static let ints: [Int64] = [
        0, 1, 31, 32, 127, 128, 255, 256, 65_535, 65_536, 1 << 31, (1 << 32) - 1, 1 << 32, .max,
        -1, -31, -32, -33, -127, -128, -129, -32_768, -32_769, Int64(Int32.min), Int64(Int32.min) - 1, .min,
    ]

    func edgeCases() -> [MessagePackValue] {
        var values: [MessagePackValue] = Self.ints.map { .int($0) } + [.uint(UInt64(Int64.max) + 1), .uint(.max)]
        for length in Self.lengths {
            values.append(.string(String(repeating: "é", count: length / 2) + String(repeating: "a", count: length % 2)))
            values.append(.binary(Array(repeating: 0x5a, count: length)))
        }
        for count in [0, 15, 16, 65_535, 65_536] {
            values.append(.array(Array(repeating: .int(1), count: count)))
            values.append(.map((0..<count).map { (key: .int(Int64($0)), value: .nil) }))
        }
        for length in [0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65_536] {
            values.append(.ext(type: 7, data: ByteBuffer(repeating: 1, count: length)))
        }
        values += [.float(.infinity), .float(-0.0), .double(-.infinity), .double(.leastNonzeroMagnitude), .double(-0.0)]
        return values
    }

    func length(_ rng: inout SplitMix64) -> Int {
        Int.random(in: 0..<8, using: &rng) == 0 ? Self.lengths.randomElement(using: &rng)! : Int.random(in: 0..<48, using: &rng)
    }

    /// Random bytes, eight per generator step (a byte at a time is slow in debug builds).
    func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> ByteBuffer {
        var words = (0..<(count + 7) / 8).map { _ in rng.next() }
        return words.withUnsafeMutableBytes { ByteBuffer(bytes: $0.prefix(count)) }
    }

    func string(_ rng: inout SplitMix64) -> String {
        let scalars: [ClosedRange<UInt32>] = [0x20...0x7e, 0x00...0x7f, 0xa0...0x7ff, 0x800...0xd7ff, 0xe000...0xfffd, 0x10000...0x10ffff]
        var s = String.UnicodeScalarView()
        let byteTarget = length(&rng)
        var bytes = 0
        while bytes < byteTarget {
            let scalar = Unicode.Scalar(UInt32.random(in: scalars.randomElement(using: &rng)!, using: &rng))!
            s.append(scalar)
            bytes += String(scalar).utf8.count
        }
        return String(s)
    }

    mutating func value(_ category: Category, depth: Int = 0, using rng: inout SplitMix64) -> MessagePackValue {
        switch category {
        case .nil_: return .nil
        case .bool: return .bool(Bool.random(using: &rng))
        case .int:
            if Bool.random(using: &rng) { return .int(Self.ints.randomElement(using: &rng)! &+ Int64.random(in: -2...2, using: &rng)) }
            let bits = Int64.random(in: 0...62, using: &rng)
            return .int(Int64.random(in: -(1 << bits)...(1 << bits), using: &rng))
        case .uint64: return .uint(UInt64.random(in: (UInt64(Int64.max) + 1)...UInt64.max, using: &rng))
        case .float32: return .float(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)))
        case .float64: return .double(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        case .str: return .string(string(&rng))
        case .bin: return .binary(randomBytes(length(&rng), &rng))
        case .ext:
            var type = Int8.random(in: -128...127, using: &rng)
            if type == -1 { type = 0 }
            return .ext(type: type, data: randomBytes(length(&rng), &rng))
        case .timestamp:
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: return .timestamp(.init(seconds: Int64.random(in: 0...Int64(UInt32.max), using: &rng)))
            case 1:
                return .timestamp(
                    .init(seconds: Int64.random(in: 0..<(1 << 34), using: &rng), nanoseconds: UInt32.random(in: 0..<1_000_000_000, using: &rng)))
            default:
                return .timestamp(
                    .init(
                        seconds: Int64.random(in: Int64.min...Int64.max, using: &rng), nanoseconds: UInt32.random(in: 0..<1_000_000_000, using: &rng))
                )
            }
        case .array:
            return .array((0..<Int.random(in: 0...20, using: &rng)).map { _ in scalar(depth: depth, &rng) })
        case .map:
            var seen = Set<ByteBuffer>()  // by encoding: Swift's String equality is canonical, not bytewise
            var entries: [(key: MessagePackValue, value: MessagePackValue)] = []
            for _ in 0..<Int.random(in: 0...20, using: &rng) {
                let key = [Category.str, .int, .bool, .nil_, .float64, .bin].randomElement(using: &rng).map { value($0, using: &rng) }!
                guard seen.insert(key.encoded()).inserted else { continue }
                entries.append((key, scalar(depth: depth, &rng)))
            }
            return .map(entries)
        case .nested:
            return depth >= 5 ? scalar(depth: depth, &rng) : value(Bool.random(using: &rng) ? .array : .map, depth: depth + 1, using: &rng)
        }
    }

    /// A value for inside a container: often another container, until the depth runs out.
    mutating func scalar(depth: Int, _ rng: inout SplitMix64) -> MessagePackValue {
        if depth > 0, depth < 5, Int.random(in: 0..<4, using: &rng) == 0 { return value(.nested, depth: depth, using: &rng) }
        let leaf = Category.allCases.filter { $0 != .array && $0 != .map && $0 != .nested }.randomElement(using: &rng)!
        return value(leaf, depth: depth, using: &rng)
    }
}

/// Runs the Python side of interop tests from the repository's test venv.
enum Interop {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var python: URL {
        if let path = ProcessInfo.processInfo.environment["FUGITIVE_PYTHON"] { return URL(fileURLWithPath: path) }
        return repository.appendingPathComponent(".venv/bin/python")
    }

    static func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-\(name)-\(UUID().uuidString)")
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a script under `Tests/Interop` and parses the JSON object it prints last.
    static func python(_ arguments: [String]) throws -> [String: Any] {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw Failure(description: "no Python at \(python.path): run scripts/bootstrap (or make test)")
        }
        let process = Process()
        process.executableURL = python
        process.arguments = [repository.appendingPathComponent("Tests/Interop/\(arguments[0])").path] + arguments.dropFirst()
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any] else {
            throw Failure(description: "\(arguments[0]) exited \(process.terminationStatus) printing: \(lastLine.prefix(500))")
        }
        return object
    }

    static func readRecords(_ file: URL) throws -> [ByteBuffer] {
        let buffer = ByteBuffer(bytes: try Data(contentsOf: file))
        var cursor = buffer
        var records: [ByteBuffer] = []
        while let length = cursor.readInteger(as: UInt32.self) {
            guard let record = cursor.readSlice(length: Int(length)) else { throw Failure(description: "truncated record file") }
            records.append(record)
        }
        return records
    }

    static func writeRecords(_ records: [ByteBuffer], to file: URL) throws {
        var buffer = ByteBuffer()
        for record in records {
            buffer.writeInteger(UInt32(record.readableBytes))
            buffer.writeImmutableBuffer(record)
        }
        try Data(buffer.readableBytesView).write(to: file)
    }
}
