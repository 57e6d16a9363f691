#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// ``MessagePackValue`` passes through ``MessagePackEncoder`` and ``MessagePackDecoder``
/// unchanged. With other coders (JSON, say) it maps onto their closest types: bin as an
/// array of bytes, timestamps as `Date`; ext values and maps with non-string keys
/// cannot be encoded there.
extension MessagePackValue: Codable {
    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .map(let entries):
            var container = encoder.container(keyedBy: AnyKey.self)
            for entry in entries {
                guard case .string(let key) = entry.key else {
                    throw MessagePackError(.unencodable, offset: -1, "map key \(entry.key.typeName) outside MessagePack")
                }
                try container.encode(entry.value, forKey: AnyKey(stringValue: key))
            }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .nil: try container.encodeNil()
            case .bool(let b): try container.encode(b)
            case .int(let i): try container.encode(i)
            case .uint(let u): try container.encode(u)
            case .float(let f): try container.encode(f)
            case .double(let d): try container.encode(d)
            case .string(let s): try container.encode(s)
            case .binary(let b): try container.encode(Array(b.readableBytesView))
            case .timestamp(let t): try container.encode(t.date)
            case .ext, .array, .map:
                throw MessagePackError(.unencodable, offset: -1, "ext values exist only in MessagePack")
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: AnyKey.self) {
            self = .map(try container.allKeys.map { (key: .string($0.stringValue), value: try container.decode(MessagePackValue.self, forKey: $0)) })
        } else if var container = try? decoder.unkeyedContainer() {
            var elements: [MessagePackValue] = []
            while !container.isAtEnd { elements.append(try container.decode(MessagePackValue.self)) }
            self = .array(elements)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .nil
            } else if let b = try? container.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? container.decode(Int64.self) {
                self = .int(i)
            } else if let u = try? container.decode(UInt64.self) {
                self = .uint(u)
            } else if let d = try? container.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }
}
