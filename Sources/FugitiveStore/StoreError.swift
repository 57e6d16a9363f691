/// A store failure, with a stable code.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable { case openFailed, writeFailed, readFailed, digestMismatch }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database could not be opened or migrated.
        public static let openFailed = Code(.openFailed)
        public static let writeFailed = Code(.writeFailed)
        public static let readFailed = Code(.readFailed)
        /// Bytes offered for storage do not match the digest they were offered under.
        public static let digestMismatch = Code(.digestMismatch)

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
