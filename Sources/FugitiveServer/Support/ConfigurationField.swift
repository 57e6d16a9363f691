/// One key of a JSON configuration file and the property it sets. A configuration's
/// table of fields is the one place its keys are spelled: each key is its property's
/// name, absent keys keep the defaults the struct declares, and a key that is not in the
/// table is an error, so that a typo in a file does not pass silently.
struct ConfigurationField<Root> {
    let key: String
    let decode: (inout Root, KeyedDecodingContainer<AnyKey>, AnyKey) throws -> Void

    /// A value decoded as it is written.
    static func value<T: Decodable>(_ key: String, _ path: WritableKeyPath<Root, T>) -> Self {
        Self(key: key) { root, container, key in root[keyPath: path] = try container.decode(T.self, forKey: key) }
    }

    /// An optional value; `null` clears it.
    static func optional<T: Decodable>(_ key: String, _ path: WritableKeyPath<Root, T?>) -> Self {
        Self(key: key) { root, container, key in
            root[keyPath: path] = try container.decodeNil(forKey: key) ? nil : container.decode(T.self, forKey: key)
        }
    }

    /// A duration, written in seconds (a number, fractions allowed).
    static func seconds(_ key: String, _ path: WritableKeyPath<Root, Duration>) -> Self {
        Self(key: key) { root, container, key in
            let seconds = try container.decode(Double.self, forKey: key)
            guard let duration = Duration(configurationSeconds: seconds) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "\(key.stringValue): \(seconds) is not a number of seconds in 0...\(Duration.maxConfigurationSeconds)")
            }
            root[keyPath: path] = duration
        }
    }
}

extension Decoder {
    /// Decodes a partial configuration: `defaults` with the keys present in the file
    /// applied through `fields`.
    func decodeConfiguration<Root>(_ defaults: Root, fields: [ConfigurationField<Root>]) throws -> Root {
        let container = try self.container(keyedBy: AnyKey.self)
        let byKey = Dictionary(fields.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var root = defaults
        for key in container.allKeys {
            guard let field = byKey[key.stringValue] else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "unknown configuration key '\(key.stringValue)'")
            }
            try field.decode(&root, container, key)
        }
        return root
    }
}

/// Any JSON object key.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Duration {
    /// The longest duration a configuration may give (about 31 years): beyond it a number
    /// of seconds is a mistake, and `Duration` would overflow long before infinity.
    public static let maxConfigurationSeconds = 1e9

    /// A configured number of seconds; `nil` unless it is finite and in
    /// 0...``maxConfigurationSeconds``.
    public init?(configurationSeconds seconds: Double) {
        guard seconds.isFinite, (0...Self.maxConfigurationSeconds).contains(seconds) else { return nil }
        self = .milliseconds(Int64((seconds * 1000).rounded()))
    }

}
