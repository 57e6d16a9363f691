import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Encodes `Encodable` values as MessagePack.
///
/// Structs become maps keyed by their coding keys' string values; `[UInt8]`, `Data` and
/// `ByteBuffer` become bin (never arrays of integers); `Date` and
/// ``MessagePackTimestamp`` become the timestamp extension; ``MessagePackValue`` is
/// written as is. `nil` optionals are omitted from keyed containers.
public struct MessagePackEncoder: Sendable {
    public init() {}

    /// Encodes `value` into a new buffer.
    public func encode(_ value: some Encodable) throws -> ByteBuffer {
        var writer = MessagePackWriter()
        try encode(value, into: &writer)
        return writer.buffer
    }

    /// Encodes `value`, appending to `writer`.
    public func encode(_ value: some Encodable, into writer: inout MessagePackWriter) throws {
        let root = try _MessagePackEncoder.box(value, codingPath: [])
        root.write(into: &writer)
    }

    /// Encodes `value` into a dynamic value.
    public func encodeToValue(_ value: some Encodable) throws -> MessagePackValue {
        try _MessagePackEncoder.box(value, codingPath: []).value
    }
}

/// A node of the value being encoded; containers are references so that nested
/// containers can keep filling them after they were handed out.
enum _EncodedNode {
    case value(MessagePackValue)
    case array(_ArrayNode)
    case map(_MapNode)

    func write(into writer: inout MessagePackWriter) {
        switch self {
        case .value(let v): writer.write(v)
        case .array(let a):
            writer.writeArrayHeader(a.elements.count)
            for element in a.elements { element.write(into: &writer) }
        case .map(let m):
            writer.writeMapHeader(m.keys.count)
            for (key, value) in zip(m.keys, m.values) {
                writer.writeString(key)
                value.write(into: &writer)
            }
        }
    }

    var value: MessagePackValue {
        switch self {
        case .value(let v): v
        case .array(let a): .array(a.elements.map(\.value))
        case .map(let m): .map(zip(m.keys, m.values).map { (key: .string($0), value: $1.value) })
        }
    }
}

// Containers are filled by one encoder on one thread: skip dynamic exclusivity checks.
final class _ArrayNode { @exclusivity(unchecked) var elements: [_EncodedNode] = [] }
final class _MapNode {
    @exclusivity(unchecked) var keys: [String] = []
    @exclusivity(unchecked) var values: [_EncodedNode] = []
    /// Built once the map grows, so that encoding a large dictionary stays linear.
    private var positions: [String: Int]?

    func set(_ key: String, _ value: _EncodedNode) {
        // A key encoded twice replaces the first (as `JSONEncoder` does).
        if let existing = position(of: key) {
            values[existing] = value
            return
        }
        positions?[key] = keys.count
        keys.append(key)
        values.append(value)
    }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        if keys.count < 16 { return keys.firstIndex(of: key) }
        positions = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        return positions![key]
    }
}

final class _MessagePackEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    @exclusivity(unchecked) var node: _EncodedNode?

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    /// Encodes one value into a node, taking the fast path for the types MessagePack
    /// represents natively.
    static func box(_ value: some Encodable, codingPath: [any CodingKey]) throws -> _EncodedNode {
        if let special = specialValue(value) { return .value(special) }
        let encoder = _MessagePackEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.node ?? .map(_MapNode())
    }

    static func specialValue<T: Encodable>(_ value: T) -> MessagePackValue? {
        // Exact type checks, not `as?` casts: an empty `[Int]` casts to `[UInt8]`.
        if T.self == ByteBuffer.self { return .binary(value as! ByteBuffer) }
        if T.self == [UInt8].self { return .binary(ByteBuffer(bytes: value as! [UInt8])) }
        if T.self == Data.self { return .binary(ByteBuffer(bytes: value as! Data)) }
        if T.self == MessagePackValue.self { return (value as! MessagePackValue) }
        if T.self == MessagePackTimestamp.self { return .timestamp(value as! MessagePackTimestamp) }
        if T.self == Date.self { return .timestamp(MessagePackTimestamp(value as! Date)) }
        return nil
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let map: _MapNode
        if case .map(let existing) = node {
            map = existing
        } else {
            map = _MapNode()
            node = .map(map)
        }
        return KeyedEncodingContainer(_KeyedEncoder<Key>(map: map, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: _ArrayNode
        if case .array(let existing) = node {
            array = existing
        } else {
            array = _ArrayNode()
            node = .array(array)
        }
        return _UnkeyedEncoder(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { _SingleValueEncoder(encoder: self) }
}

private struct _KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let map: _MapNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { map.set(key.stringValue, .value(.nil)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { map.set(key.stringValue, .value(.bool(value))) }
    mutating func encode(_ value: String, forKey key: Key) throws { map.set(key.stringValue, .value(.string(value))) }
    mutating func encode(_ value: Double, forKey key: Key) throws { map.set(key.stringValue, .value(.double(value))) }
    mutating func encode(_ value: Float, forKey key: Key) throws { map.set(key.stringValue, .value(.float(value))) }
    mutating func encode(_ value: Int, forKey key: Key) throws { map.set(key.stringValue, .value(.int(Int64(value)))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { map.set(key.stringValue, .value(.int(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { map.set(key.stringValue, .value(.integer(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { map.set(key.stringValue, .value(.int(Int64(value)))) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        map.set(key.stringValue, try _MessagePackEncoder.box(value, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = _MapNode()
        map.set(key.stringValue, .map(nested))
        return KeyedEncodingContainer(_KeyedEncoder<NestedKey>(map: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = _ArrayNode()
        map.set(key.stringValue, .array(nested))
        return _UnkeyedEncoder(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        _ReferencingEncoder(codingPath: codingPath + [key]) { [map] node in map.set(key.stringValue, node) }
    }
}

private struct _UnkeyedEncoder: UnkeyedEncodingContainer {
    let array: _ArrayNode
    let codingPath: [any CodingKey]
    var count: Int { array.elements.count }

    private var nextKey: any CodingKey { _IndexKey(count) }

    mutating func encodeNil() throws { array.elements.append(.value(.nil)) }
    mutating func encode(_ value: Bool) throws { array.elements.append(.value(.bool(value))) }
    mutating func encode(_ value: String) throws { array.elements.append(.value(.string(value))) }
    mutating func encode(_ value: Double) throws { array.elements.append(.value(.double(value))) }
    mutating func encode(_ value: Float) throws { array.elements.append(.value(.float(value))) }
    mutating func encode(_ value: Int) throws { array.elements.append(.value(.int(Int64(value)))) }
    mutating func encode(_ value: Int64) throws { array.elements.append(.value(.int(value))) }
    mutating func encode(_ value: UInt64) throws { array.elements.append(.value(.integer(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        array.elements.append(try _MessagePackEncoder.box(value, codingPath: codingPath + [nextKey]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = _MapNode()
        let path = codingPath + [nextKey]
        array.elements.append(.map(nested))
        return KeyedEncodingContainer(_KeyedEncoder<NestedKey>(map: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = _ArrayNode()
        let path = codingPath + [nextKey]
        array.elements.append(.array(nested))
        return _UnkeyedEncoder(array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let index = array.elements.count
        array.elements.append(.value(.nil))
        return _ReferencingEncoder(codingPath: codingPath + [nextKey]) { [array] node in array.elements[index] = node }
    }
}

private struct _SingleValueEncoder: SingleValueEncodingContainer {
    let encoder: _MessagePackEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func set(_ value: MessagePackValue) { encoder.node = .value(value) }

    mutating func encodeNil() throws { set(.nil) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.double(value)) }
    mutating func encode(_ value: Float) throws { set(.float(value)) }
    mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(value)) }
    mutating func encode(_ value: UInt) throws { set(.integer(UInt64(value))) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { set(.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.node = try _MessagePackEncoder.box(value, codingPath: codingPath)
    }
}

/// The encoder handed out by `superEncoder()`: writes its result back into the parent.
private final class _ReferencingEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: _MessagePackEncoder
    private let store: (_EncodedNode) -> Void

    init(codingPath: [any CodingKey], store: @escaping (_EncodedNode) -> Void) {
        self.codingPath = codingPath
        self.inner = _MessagePackEncoder(codingPath: codingPath)
        self.store = store
    }

    deinit { store(inner.node ?? .map(_MapNode())) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}

struct _IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { intValue.map(String.init) ?? "" }
    init(_ index: Int) { self.intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
}
