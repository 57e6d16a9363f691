/// A keyed view of a map. Small maps are searched linearly; larger ones get a
/// dictionary index built once, so decoding stays linear in the input.
struct _KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [(key: MessagePackValue, value: MessagePackValue)]
    let codingPath: [any CodingKey]
    private let index: [String: Int]?

    init(entries: [(key: MessagePackValue, value: MessagePackValue)], codingPath: [any CodingKey]) throws {
        self.entries = entries
        self.codingPath = codingPath
        if entries.count <= 8 {
            index = nil
            for i in entries.indices {
                for j in entries.indices where j > i && entries[i].key == entries[j].key {
                    throw MessagePackError(.duplicateKey, offset: -1, "key \(entries[i].key) twice at \(pathString(codingPath))")
                }
            }
        } else {
            var built: [String: Int] = [:]
            built.reserveCapacity(entries.count)
            for (i, entry) in entries.enumerated() {
                guard let name = Self.name(of: entry.key) else { continue }
                if built.updateValue(i, forKey: name) != nil {
                    throw MessagePackError(.duplicateKey, offset: -1, "key \(name) twice at \(pathString(codingPath))")
                }
            }
            index = built
        }
    }

    /// The coding-key name of a map key: strings as they are, integers in decimal.
    private static func name(of key: MessagePackValue) -> String? {
        switch key {
        case .string(let s): s
        case .int(let i): String(i)
        case .uint(let u): String(u)
        default: nil
        }
    }

    var allKeys: [Key] { entries.compactMap { Self.name(of: $0.key).flatMap(Key.init(stringValue:)) } }

    private func find(_ key: Key) -> MessagePackValue? {
        if let index {
            return index[key.stringValue].map { entries[$0].value }
        }
        let name = key.stringValue
        for entry in entries {
            switch entry.key {
            case .string(let s) where s == name: return entry.value
            case .int, .uint: if Self.name(of: entry.key) == name { return entry.value }
            default: continue
            }
        }
        return nil
    }

    private func require(_ key: Key) throws -> MessagePackValue {
        guard let value = find(key) else {
            throw MessagePackError(.missingKey, offset: -1, "no key \"\(key.stringValue)\" at \(pathString(codingPath))")
        }
        return value
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .nil = try require(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try _Scalar.bool(require(key), codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try _Scalar.string(require(key), codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try _Scalar.double(require(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try _Scalar.float(require(key), codingPath + [key]) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try _Scalar.integer(require(key), codingPath + [key]) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try _MessagePackDecoder.unbox(require(key), as: type, codingPath: codingPath + [key])
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = find(key) else { return nil }
        if case .nil = value { return nil }
        return try _MessagePackDecoder.unbox(value, as: type, codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try _MessagePackDecoder(value: require(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try _MessagePackDecoder(value: require(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        _MessagePackDecoder(value: find(Key(stringValue: "super")!) ?? .nil, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        _MessagePackDecoder(value: find(key) ?? .nil, codingPath: codingPath + [key])
    }
}

struct _UnkeyedDecoder: UnkeyedDecodingContainer {
    let elements: [MessagePackValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(elements: [MessagePackValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> (MessagePackValue, [any CodingKey]) {
        guard !isAtEnd else {
            throw MessagePackError(.missingKey, offset: -1, "array of \(elements.count) has no element \(currentIndex) at \(pathString(codingPath))")
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [_IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if case .nil = elements[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { let (v, p) = try next(); return try _Scalar.bool(v, p) }
    mutating func decode(_ type: String.Type) throws -> String { let (v, p) = try next(); return try _Scalar.string(v, p) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (v, p) = try next(); return try _Scalar.double(v, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (v, p) = try next(); return try _Scalar.float(v, p) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (v, p) = try next(); return try _Scalar.integer(v, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (v, p) = try next(); return try _Scalar.integer(v, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (v, p) = try next(); return try _Scalar.integer(v, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (v, p) = try next(); return try _Scalar.integer(v, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (v, p) = try next(); return try _Scalar.integer(v, p) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, p) = try next()
        return try _MessagePackDecoder.unbox(v, as: type, codingPath: p)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, p) = try next()
        return try _MessagePackDecoder(value: v, codingPath: p).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, p) = try next()
        return try _MessagePackDecoder(value: v, codingPath: p).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (v, p) = try next()
        return _MessagePackDecoder(value: v, codingPath: p)
    }
}

struct _SingleValueDecoder: SingleValueDecodingContainer {
    let value: MessagePackValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .nil = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try _Scalar.bool(value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try _Scalar.string(value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try _Scalar.double(value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try _Scalar.float(value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try _Scalar.integer(value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try _Scalar.integer(value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try _Scalar.integer(value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try _Scalar.integer(value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try _MessagePackDecoder.unbox(value, as: type, codingPath: codingPath)
    }
}
