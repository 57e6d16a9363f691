import NIOCore

/// A dynamically typed MessagePack value.
///
/// Integers are normalised: every value that fits `Int64` is ``int(_:)``; only values
/// above `Int64.max` are ``uint(_:)``. Maps keep their entries in wire order (and may hold
/// keys of any type), so a decoded value re-encodes to the same bytes.
public enum MessagePackValue: Sendable {
    case `nil`
    case bool(Bool)
    /// A signed integer (any value in `Int64`'s range, positive or negative).
    case int(Int64)
    /// An unsigned integer above `Int64.max`.
    case uint(UInt64)
    /// A float 32 value; kept apart from ``double(_:)`` so it re-encodes as float 32.
    case float(Float)
    case double(Double)
    case string(String)
    /// Binary data (bin 8/16/32); decoded values share the input's storage.
    case binary(ByteBuffer)
    case array([MessagePackValue])
    /// A map, entries in wire order.
    case map([(key: MessagePackValue, value: MessagePackValue)])
    /// An extension value other than the timestamp.
    case ext(type: Int8, data: ByteBuffer)
    /// The timestamp extension (type -1).
    case timestamp(MessagePackTimestamp)

    /// An integer value, normalised as described on the type.
    public static func integer(_ value: UInt64) -> MessagePackValue {
        value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
    }

    /// Binary data copied from a byte collection.
    public static func binary(_ bytes: some Sequence<UInt8>) -> MessagePackValue {
        .binary(ByteBuffer(bytes: bytes))
    }

    /// The value under `key` when this is a map with a string key equal to `key`.
    public subscript(key: String) -> MessagePackValue? {
        guard case .map(let entries) = self else { return nil }
        for entry in entries {
            if case .string(let k) = entry.key, k == key { return entry.value }
        }
        return nil
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .nil: "nil"
        case .bool: "bool"
        case .int, .uint: "int"
        case .float: "float32"
        case .double: "float64"
        case .string: "str"
        case .binary: "bin"
        case .array: "array"
        case .map: "map"
        case .ext: "ext"
        case .timestamp: "timestamp"
        }
    }
}

extension MessagePackValue: Hashable {
    /// Values are equal when they encode to the same MessagePack value: strings compare
    /// by their UTF-8 bytes, floats by bit pattern (so NaN equals itself).
    public static func == (lhs: MessagePackValue, rhs: MessagePackValue) -> Bool {
        switch (lhs, rhs) {
        case (.nil, .nil): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.uint(let a), .uint(let b)): a == b
        case (.int(let a), .uint(let b)), (.uint(let b), .int(let a)): a >= 0 && UInt64(a) == b
        case (.float(let a), .float(let b)): a.bitPattern == b.bitPattern
        case (.double(let a), .double(let b)): a.bitPattern == b.bitPattern
        // Bytewise: Swift's `==` on strings is canonical equivalence, MessagePack's is not.
        case (.string(let a), .string(let b)): a.utf8.elementsEqual(b.utf8)
        case (.binary(let a), .binary(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.map(let a), .map(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.ext(let t1, let d1), .ext(let t2, let d2)): t1 == t2 && d1 == d2
        case (.timestamp(let a), .timestamp(let b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .nil: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .int(let i):
            if i >= 0 { hasher.combine(UInt64(i)) } else { hasher.combine(i) }
        case .uint(let u): hasher.combine(u)
        case .float(let f): hasher.combine(f.bitPattern)
        case .double(let d): hasher.combine(d.bitPattern)
        case .string(var s): s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        case .binary(let b): hasher.combine(b)
        case .array(let a): hasher.combine(a)
        case .map(let m):
            hasher.combine(m.count)
            for entry in m {
                hasher.combine(entry.key)
                hasher.combine(entry.value)
            }
        case .ext(let t, let d):
            hasher.combine(t)
            hasher.combine(d)
        case .timestamp(let t): hasher.combine(t)
        }
    }
}

extension MessagePackValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: MessagePackValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (MessagePackValue, MessagePackValue)...) {
        self = .map(elements.map { (key: $0.0, value: $0.1) })
    }
}
