/// A store failure, with a stable code.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable { case openFailed, writeFailed, readFailed, digestMismatch, tooLarge }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database could not be opened or migrated.
        public static let openFailed = Code(.openFailed)
        public static let writeFailed = Code(.writeFailed)
        public static let readFailed = Code(.readFailed)
        /// Bytes offered for storage do not match the digest they were offered under.
        public static let digestMismatch = Code(.digestMismatch)
        /// The bytes are larger than the whole persistent store: kept in memory at most,
        /// never on disk (so never to be announced).
        public static let tooLarge = Code(.tooLarge)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
