import NIOCore

/// Appends MessagePack to a `ByteBuffer`, always in the smallest form the
/// specification allows (so the output is byte-identical to the reference encoder).
public struct MessagePackWriter: Sendable {
    /// The bytes written so far.
    public var buffer: ByteBuffer

    public init(buffer: ByteBuffer = ByteBuffer()) {
        self.buffer = buffer
    }

    public mutating func writeNil() {
        buffer.writeInteger(UInt8(0xc0))
    }

    public mutating func writeBool(_ value: Bool) {
        buffer.writeInteger(value ? UInt8(0xc3) : UInt8(0xc2))
    }

    /// Writes a signed integer: non-negative values as positive fixint / uint 8…64,
    /// negative ones as negative fixint / int 8…64.
    @inlinable
    public mutating func writeInt(_ value: Int64) {
        if value >= 0 {
            writeUInt(UInt64(value))
        } else if value >= -32 {
            buffer.writeInteger(UInt8(bitPattern: Int8(value)))
        } else if value >= Int64(Int8.min) {
            buffer.writeMultipleIntegers(UInt8(0xd0), Int8(value))
        } else if value >= Int64(Int16.min) {
            buffer.writeMultipleIntegers(UInt8(0xd1), Int16(value))
        } else if value >= Int64(Int32.min) {
            buffer.writeMultipleIntegers(UInt8(0xd2), Int32(value))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xd3), value)
        }
    }

    @inlinable
    public mutating func writeUInt(_ value: UInt64) {
        if value < 0x80 {
            buffer.writeInteger(UInt8(value))
        } else if value <= UInt64(UInt8.max) {
            buffer.writeMultipleIntegers(UInt8(0xcc), UInt8(value))
        } else if value <= UInt64(UInt16.max) {
            buffer.writeMultipleIntegers(UInt8(0xcd), UInt16(value))
        } else if value <= UInt64(UInt32.max) {
            buffer.writeMultipleIntegers(UInt8(0xce), UInt32(value))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xcf), value)
        }
    }

    public mutating func writeFloat(_ value: Float) {
        buffer.writeMultipleIntegers(UInt8(0xca), value.bitPattern)
    }

    public mutating func writeDouble(_ value: Double) {
        buffer.writeMultipleIntegers(UInt8(0xcb), value.bitPattern)
    }

    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeStringHeader(utf8.count)
            buffer.writeBytes(utf8)
        }
    }

    /// Writes a str header for `length` UTF-8 bytes; the caller writes the bytes.
    public mutating func writeStringHeader(_ length: Int) {
        precondition(length >= 0 && length <= Int(UInt32.max), "str longer than 2^32-1 bytes")
        if length < 32 {
            buffer.writeInteger(UInt8(0xa0 | length))
        } else if length <= Int(UInt8.max) {
            buffer.writeMultipleIntegers(UInt8(0xd9), UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(UInt8(0xda), UInt16(length))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xdb), UInt32(length))
        }
    }

    /// Writes a bin header for `length` bytes; the caller writes the bytes.
    public mutating func writeBinaryHeader(_ length: Int) {
        precondition(length >= 0 && length <= Int(UInt32.max), "bin longer than 2^32-1 bytes")
        if length <= Int(UInt8.max) {
            buffer.writeMultipleIntegers(UInt8(0xc4), UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(UInt8(0xc5), UInt16(length))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xc6), UInt32(length))
        }
    }

    public mutating func writeBinary(_ bytes: ByteBuffer) {
        writeBinaryHeader(bytes.readableBytes)
        buffer.writeImmutableBuffer(bytes)
    }

    public mutating func writeBinary(_ bytes: some Collection<UInt8>) {
        writeBinaryHeader(bytes.count)
        buffer.writeBytes(bytes)
    }

    public mutating func writeArrayHeader(_ count: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max), "array longer than 2^32-1")
        if count < 16 {
            buffer.writeInteger(UInt8(0x90 | count))
        } else if count <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(UInt8(0xdc), UInt16(count))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xdd), UInt32(count))
        }
    }

    public mutating func writeMapHeader(_ count: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max), "map longer than 2^32-1")
        if count < 16 {
            buffer.writeInteger(UInt8(0x80 | count))
        } else if count <= Int(UInt16.max) {
            buffer.writeMultipleIntegers(UInt8(0xde), UInt16(count))
        } else {
            buffer.writeMultipleIntegers(UInt8(0xdf), UInt32(count))
        }
    }

    /// Writes an extension value: fixext 1/2/4/8/16 where the length allows, else ext 8/16/32.
    public mutating func writeExtension(type: Int8, data: ByteBuffer) {
        let length = data.readableBytes
        precondition(length <= Int(UInt32.max), "ext longer than 2^32-1 bytes")
        switch length {
        case 1: buffer.writeMultipleIntegers(UInt8(0xd4), type)
        case 2: buffer.writeMultipleIntegers(UInt8(0xd5), type)
        case 4: buffer.writeMultipleIntegers(UInt8(0xd6), type)
        case 8: buffer.writeMultipleIntegers(UInt8(0xd7), type)
        case 16: buffer.writeMultipleIntegers(UInt8(0xd8), type)
        case 0...Int(UInt8.max): buffer.writeMultipleIntegers(UInt8(0xc7), UInt8(length), type)
        case 0...Int(UInt16.max): buffer.writeMultipleIntegers(UInt8(0xc8), UInt16(length), type)
        default: buffer.writeMultipleIntegers(UInt8(0xc9), UInt32(length), type)
        }
        buffer.writeImmutableBuffer(data)
    }

    /// Writes the timestamp extension in its smallest form (32, 64 or 96 bits).
    public mutating func writeTimestamp(_ value: MessagePackTimestamp) {
        let type = MessagePackTimestamp.extensionType
        if value.seconds >= 0, value.seconds >> 34 == 0 {
            if value.nanoseconds == 0, value.seconds <= Int64(UInt32.max) {
                buffer.writeMultipleIntegers(UInt8(0xd6), type, UInt32(value.seconds))
            } else {
                let packed = UInt64(value.nanoseconds) << 34 | UInt64(value.seconds)
                buffer.writeMultipleIntegers(UInt8(0xd7), type, packed)
            }
        } else {
            buffer.writeMultipleIntegers(UInt8(0xc7), UInt8(12), type, value.nanoseconds, value.seconds)
        }
    }

    /// Writes a dynamic value and everything it contains.
    public mutating func write(_ value: MessagePackValue) {
        switch value {
        case .nil: writeNil()
        case .bool(let b): writeBool(b)
        case .int(let i): writeInt(i)
        case .uint(let u): writeUInt(u)
        case .float(let f): writeFloat(f)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .binary(let b): writeBinary(b)
        case .array(let elements):
            writeArrayHeader(elements.count)
            for element in elements { write(element) }
        case .map(let entries):
            writeMapHeader(entries.count)
            for entry in entries {
                write(entry.key)
                write(entry.value)
            }
        case .ext(let type, let data): writeExtension(type: type, data: data)
        case .timestamp(let t): writeTimestamp(t)
        }
    }
}

extension MessagePackValue {
    /// The value's MessagePack encoding.
    public func encoded() -> ByteBuffer {
        var writer = MessagePackWriter()
        writer.write(self)
        return writer.buffer
    }
}
