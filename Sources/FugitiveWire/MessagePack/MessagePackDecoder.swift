import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decodes `Decodable` values from MessagePack.
///
/// The input is first parsed strictly by ``MessagePackReader`` (bounded by ``limits``,
/// trailing bytes rejected), then mapped onto the Swift type. Type errors are
/// ``MessagePackError`` values with code ``MessagePackError/Code/typeMismatch``,
/// ``MessagePackError/Code/missingKey``, ``MessagePackError/Code/numberOutOfRange`` or
/// ``MessagePackError/Code/duplicateKey`` and the coding path in their detail.
public struct MessagePackDecoder: Sendable {
    /// Bounds applied to every input.
    public var limits: MessagePackLimits

    public init(limits: MessagePackLimits = .default) {
        self.limits = limits
    }

    /// Decodes a `T` from all readable bytes of `buffer`.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try decode(type, from: MessagePackReader.decode(buffer, limits: limits))
    }

    /// Decodes a `T` from `bytes`.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try decode(type, from: ByteBuffer(bytes: bytes))
    }

    /// Decodes a `T` from an already parsed value.
    public func decode<T: Decodable>(_ type: T.Type, from value: MessagePackValue) throws -> T {
        try _MessagePackDecoder.unbox(value, as: type, codingPath: [])
    }
}

func pathString(_ codingPath: [any CodingKey]) -> String {
    codingPath.isEmpty ? "<root>" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}

final class _MessagePackDecoder: Decoder {
    let value: MessagePackValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: MessagePackValue, codingPath: [any CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    static func mismatch(_ expected: String, _ value: MessagePackValue, _ codingPath: [any CodingKey]) -> MessagePackError {
        MessagePackError(.typeMismatch, offset: -1, "expected \(expected), found \(value.typeName) at \(pathString(codingPath))")
    }

    /// Decodes a value, taking the fast path for the types MessagePack represents natively.
    static func unbox<T: Decodable>(_ value: MessagePackValue, as type: T.Type, codingPath: [any CodingKey]) throws -> T {
        if T.self == ByteBuffer.self {
            guard case .binary(let b) = value else { throw mismatch("bin", value, codingPath) }
            return b as! T
        }
        if T.self == [UInt8].self {
            guard case .binary(let b) = value else { throw mismatch("bin", value, codingPath) }
            return Array(b.readableBytesView) as! T
        }
        if T.self == Data.self {
            guard case .binary(let b) = value else { throw mismatch("bin", value, codingPath) }
            return Data(b.readableBytesView) as! T
        }
        if T.self == MessagePackValue.self { return value as! T }
        if T.self == MessagePackTimestamp.self || T.self == Date.self {
            guard case .timestamp(let t) = value else { throw mismatch("timestamp", value, codingPath) }
            return (T.self == Date.self ? t.date as Any : t as Any) as! T
        }
        return try T(from: _MessagePackDecoder(value: value, codingPath: codingPath))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .map(let entries) = value else { throw Self.mismatch("map", value, codingPath) }
        return KeyedDecodingContainer(try _KeyedDecoder<Key>(entries: entries, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw Self.mismatch("array", value, codingPath) }
        return _UnkeyedDecoder(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { _SingleValueDecoder(value: value, codingPath: codingPath) }
}

/// Conversions from a dynamic value to Swift scalars, exact or not at all.
enum _Scalar {
    static func integer<T: FixedWidthInteger>(_ value: MessagePackValue, _ codingPath: [any CodingKey]) throws -> T {
        let result: T?
        switch value {
        case .int(let i): result = T(exactly: i)
        case .uint(let u): result = T(exactly: u)
        default: throw _MessagePackDecoder.mismatch("int", value, codingPath)
        }
        guard let result else {
            throw MessagePackError(.numberOutOfRange, offset: -1, "\(value) does not fit \(T.self) at \(pathString(codingPath))")
        }
        return result
    }

    static func double(_ value: MessagePackValue, _ codingPath: [any CodingKey]) throws -> Double {
        switch value {
        case .double(let d): return d
        case .float(let f): return Double(f)
        case .int(let i): if let d = Double(exactly: i) { return d }
        case .uint(let u): if let d = Double(exactly: u) { return d }
        default: throw _MessagePackDecoder.mismatch("float", value, codingPath)
        }
        throw MessagePackError(.numberOutOfRange, offset: -1, "\(value) is not exact as Double at \(pathString(codingPath))")
    }

    static func float(_ value: MessagePackValue, _ codingPath: [any CodingKey]) throws -> Float {
        if case .float(let f) = value { return f }
        let d = try double(value, codingPath)
        if d.isNaN { return .nan }
        guard let f = Float(exactly: d) else {
            throw MessagePackError(.numberOutOfRange, offset: -1, "\(d) is not exact as Float at \(pathString(codingPath))")
        }
        return f
    }

    static func bool(_ value: MessagePackValue, _ codingPath: [any CodingKey]) throws -> Bool {
        guard case .bool(let b) = value else { throw _MessagePackDecoder.mismatch("bool", value, codingPath) }
        return b
    }

    static func string(_ value: MessagePackValue, _ codingPath: [any CodingKey]) throws -> String {
        guard case .string(let s) = value else { throw _MessagePackDecoder.mismatch("str", value, codingPath) }
        return s
    }
}
