import NIOCore

/// Strict MessagePack parser producing ``MessagePackValue`` trees.
///
/// Safe on any input: lengths are checked against the bytes present before allocation,
/// nesting and size are bounded by ``MessagePackLimits``, invalid UTF-8, the never-used
/// byte 0xc1 and malformed timestamps are errors, and every error carries its offset.
/// Binary and extension payloads are zero-copy slices of the input buffer.
public struct MessagePackReader {
    private let buffer: ByteBuffer
    private let base: Int
    private let end: Int
    private let limits: MessagePackLimits
    /// The absolute index in `buffer` of the next byte to read.
    private(set) var index: Int

    /// A reader over the readable bytes of `buffer`.
    public init(_ buffer: ByteBuffer, limits: MessagePackLimits = .default) {
        self.buffer = buffer
        self.base = buffer.readerIndex
        self.end = buffer.writerIndex
        self.index = buffer.readerIndex
        self.limits = limits
    }

    /// The offset of the next byte from the start of the input.
    public var offset: Int { index - base }

    /// Whether every byte has been consumed.
    public var isAtEnd: Bool { index == end }

    /// Decodes exactly one value spanning the whole input.
    public static func decode(_ buffer: ByteBuffer, limits: MessagePackLimits = .default) throws(MessagePackError) -> MessagePackValue {
        var reader = MessagePackReader(buffer, limits: limits)
        let value = try reader.readValue()
        guard reader.isAtEnd else {
            throw MessagePackError(.trailingBytes, offset: reader.offset, "\(reader.end - reader.index) bytes after the value")
        }
        return value
    }

    /// Reads the next value.
    public mutating func readValue() throws(MessagePackError) -> MessagePackValue {
        guard end - base <= limits.maxInputSize else {
            throw MessagePackError(.sizeLimitExceeded, offset: 0, "input of \(end - base) bytes exceeds \(limits.maxInputSize)")
        }
        return try readValue(depth: 0)
    }

    private func error(_ code: MessagePackError.Code, at position: Int, _ detail: String = "") -> MessagePackError {
        MessagePackError(code, offset: position - base, detail)
    }

    private mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(MessagePackError) -> T {
        guard let value = buffer.getInteger(at: index, as: T.self), index + MemoryLayout<T>.size <= end else {
            throw error(.truncated, at: index, "expected \(MemoryLayout<T>.size) more bytes")
        }
        index += MemoryLayout<T>.size
        return value
    }

    /// Checks that `length` bytes are present and returns where they start.
    private mutating func claim(_ length: Int, headerAt start: Int) throws(MessagePackError) -> Int {
        guard length <= end - index else {
            throw error(.lengthExceedsInput, at: start, "declared \(length) bytes, \(end - index) present")
        }
        defer { index += length }
        return index
    }

    /// Checks that a container of `count` elements, each at least `minimumElementSize`
    /// bytes, can fit in what remains, so that no hostile count triggers allocation.
    private func checkCount(_ count: Int, minimumElementSize: Int, headerAt start: Int) throws(MessagePackError) {
        guard count <= (end - index) / minimumElementSize else {
            throw error(.lengthExceedsInput, at: start, "declared \(count) elements, \(end - index) bytes present")
        }
    }

    /// Reads an array header, for streaming decoders; `nil` (nothing consumed) when the
    /// next value is not an array.
    mutating func readArrayHeader() throws(MessagePackError) -> Int? {
        try readContainerHeader(fix: 0x90, sixteen: 0xdc, thirtyTwo: 0xdd, minimumElementSize: 1)
    }

    /// Reads a map header, for streaming decoders; `nil` (nothing consumed) when the next
    /// value is not a map.
    mutating func readMapHeader() throws(MessagePackError) -> Int? {
        try readContainerHeader(fix: 0x80, sixteen: 0xde, thirtyTwo: 0xdf, minimumElementSize: 2)
    }

    private mutating func readContainerHeader(fix: UInt8, sixteen: UInt8, thirtyTwo: UInt8, minimumElementSize: Int) throws(MessagePackError) -> Int?
    {
        let start = index
        guard index < end, let byte = buffer.getInteger(at: index, as: UInt8.self) else {
            throw error(.truncated, at: index, "expected a container")
        }
        let count: Int
        if byte & 0xf0 == fix {
            index += 1
            count = Int(byte & 0x0f)
        } else if byte == sixteen {
            index += 1
            count = Int(try readInteger(UInt16.self))
        } else if byte == thirtyTwo {
            index += 1
            count = Int(try readInteger(UInt32.self))
        } else {
            return nil
        }
        try checkCount(count, minimumElementSize: minimumElementSize, headerAt: start)
        return count
    }

    /// Reads the next value at nesting `depth` (for streaming decoders that have
    /// consumed `depth` container headers themselves).
    mutating func readValue(depth: Int) throws(MessagePackError) -> MessagePackValue {
        let start = index
        let byte: UInt8 = try readInteger()
        switch byte {
        case 0x00...0x7f: return .int(Int64(byte))
        case 0x80...0x8f: return try readMap(count: Int(byte & 0x0f), depth: depth, start: start)
        case 0x90...0x9f: return try readArray(count: Int(byte & 0x0f), depth: depth, start: start)
        case 0xa0...0xbf: return try readString(length: Int(byte & 0x1f), start: start)
        case 0xc0: return .nil
        case 0xc1: throw error(.invalidFormat, at: start, "byte 0xc1 is never used")
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4: return try readBinary(length: Int(readInteger(UInt8.self)), start: start)
        case 0xc5: return try readBinary(length: Int(readInteger(UInt16.self)), start: start)
        case 0xc6: return try readBinary(length: Int(readInteger(UInt32.self)), start: start)
        case 0xc7: return try readExtension(length: Int(readInteger(UInt8.self)), start: start)
        case 0xc8: return try readExtension(length: Int(readInteger(UInt16.self)), start: start)
        case 0xc9: return try readExtension(length: Int(readInteger(UInt32.self)), start: start)
        case 0xca: return .float(Float(bitPattern: try readInteger()))
        case 0xcb: return .double(Double(bitPattern: try readInteger()))
        case 0xcc: return .int(Int64(try readInteger(UInt8.self)))
        case 0xcd: return .int(Int64(try readInteger(UInt16.self)))
        case 0xce: return .int(Int64(try readInteger(UInt32.self)))
        case 0xcf: return .integer(try readInteger(UInt64.self))
        case 0xd0: return .int(Int64(try readInteger(Int8.self)))
        case 0xd1: return .int(Int64(try readInteger(Int16.self)))
        case 0xd2: return .int(Int64(try readInteger(Int32.self)))
        case 0xd3: return .int(try readInteger(Int64.self))
        case 0xd4: return try readExtension(length: 1, start: start)
        case 0xd5: return try readExtension(length: 2, start: start)
        case 0xd6: return try readExtension(length: 4, start: start)
        case 0xd7: return try readExtension(length: 8, start: start)
        case 0xd8: return try readExtension(length: 16, start: start)
        case 0xd9: return try readString(length: Int(readInteger(UInt8.self)), start: start)
        case 0xda: return try readString(length: Int(readInteger(UInt16.self)), start: start)
        case 0xdb: return try readString(length: Int(readInteger(UInt32.self)), start: start)
        case 0xdc: return try readArray(count: Int(readInteger(UInt16.self)), depth: depth, start: start)
        case 0xdd: return try readArray(count: Int(readInteger(UInt32.self)), depth: depth, start: start)
        case 0xde: return try readMap(count: Int(readInteger(UInt16.self)), depth: depth, start: start)
        case 0xdf: return try readMap(count: Int(readInteger(UInt32.self)), depth: depth, start: start)
        default: return .int(Int64(Int8(bitPattern: byte)))  // 0xe0...0xff, negative fixint
        }
    }

    private mutating func readString(length: Int, start: Int) throws(MessagePackError) -> MessagePackValue {
        let from = try claim(length, headerAt: start)
        let string = buffer.withUnsafeReadableBytes { bytes -> String? in
            let utf8 = UnsafeRawBufferPointer(rebasing: bytes[(from - base)..<(from - base + length)])
            // Ids, SDP and URLs are ASCII, which is valid UTF-8 as it is: this skips the
            // general validator (unspecialised, a tenth of the relay's decoding time).
            if utf8.allSatisfy({ $0 < 0x80 }) { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }
        guard let string else { throw error(.invalidUTF8, at: start, "str of \(length) bytes") }
        return .string(string)
    }

    private mutating func readBinary(length: Int, start: Int) throws(MessagePackError) -> MessagePackValue {
        let from = try claim(length, headerAt: start)
        return .binary(buffer.getSlice(at: from, length: length)!)
    }

    private mutating func readExtension(length: Int, start: Int) throws(MessagePackError) -> MessagePackValue {
        let type: Int8 = try readInteger()
        let from = try claim(length, headerAt: start)
        guard type == MessagePackTimestamp.extensionType else {
            return .ext(type: type, data: buffer.getSlice(at: from, length: length)!)
        }
        let seconds: Int64
        let nanoseconds: UInt32
        switch length {
        case 4:
            seconds = Int64(buffer.getInteger(at: from, as: UInt32.self)!)
            nanoseconds = 0
        case 8:
            let packed = buffer.getInteger(at: from, as: UInt64.self)!
            nanoseconds = UInt32(packed >> 34)
            seconds = Int64(packed & 0x3_ffff_ffff)
        case 12:
            nanoseconds = buffer.getInteger(at: from, as: UInt32.self)!
            seconds = buffer.getInteger(at: from + 4, as: Int64.self)!
        default:
            throw error(.invalidTimestamp, at: start, "timestamp of \(length) bytes")
        }
        guard nanoseconds < 1_000_000_000 else {
            throw error(.invalidTimestamp, at: start, "nanoseconds \(nanoseconds) ≥ 10^9")
        }
        return .timestamp(MessagePackTimestamp(seconds: seconds, nanoseconds: nanoseconds))
    }

    private mutating func readArray(count: Int, depth: Int, start: Int) throws(MessagePackError) -> MessagePackValue {
        guard depth < limits.maxDepth else { throw error(.depthLimitExceeded, at: start, "deeper than \(limits.maxDepth)") }
        try checkCount(count, minimumElementSize: 1, headerAt: start)
        var elements: [MessagePackValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try readValue(depth: depth + 1))
        }
        return .array(elements)
    }

    private mutating func readMap(count: Int, depth: Int, start: Int) throws(MessagePackError) -> MessagePackValue {
        guard depth < limits.maxDepth else { throw error(.depthLimitExceeded, at: start, "deeper than \(limits.maxDepth)") }
        try checkCount(count, minimumElementSize: 2, headerAt: start)
        var entries: [(key: MessagePackValue, value: MessagePackValue)] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let key = try readValue(depth: depth + 1)
            let value = try readValue(depth: depth + 1)
            entries.append((key, value))
        }
        return .map(entries)
    }
}
