/// An error raised while decoding or encoding MessagePack.
///
/// Every failure carries a stable ``Code`` and the byte offset (from the start of the
/// input) where it was detected, so that a hostile or corrupt frame can be reported
/// precisely without crashing the process.
public struct MessagePackError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, extensible error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The numeric value of the code; stable across releases.
        public let rawValue: Int
        /// A short name for logs.
        public let name: String

        init(_ rawValue: Int, _ name: String) {
            self.rawValue = rawValue
            self.name = name
        }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.rawValue == rhs.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
        public var description: String { name }

        /// The input ended inside a value.
        public static let truncated = Code(1, "truncated")
        /// The byte 0xc1, which MessagePack never uses.
        public static let invalidFormat = Code(2, "invalid-format")
        /// A declared length or count exceeds the bytes present.
        public static let lengthExceedsInput = Code(3, "length-exceeds-input")
        /// Arrays and maps nest deeper than the configured limit.
        public static let depthLimitExceeded = Code(4, "depth-limit-exceeded")
        /// The input or a value is larger than the configured limit.
        public static let sizeLimitExceeded = Code(5, "size-limit-exceeded")
        /// Bytes remain after the top-level value.
        public static let trailingBytes = Code(6, "trailing-bytes")
        /// A str value is not valid UTF-8.
        public static let invalidUTF8 = Code(7, "invalid-utf8")
        /// The timestamp extension has a bad length or nanoseconds ≥ 10⁹.
        public static let invalidTimestamp = Code(8, "invalid-timestamp")
        /// The value has another type than the one expected.
        public static let typeMismatch = Code(9, "type-mismatch")
        /// A number does not fit the requested Swift type.
        public static let numberOutOfRange = Code(10, "number-out-of-range")
        /// A required map key is absent.
        public static let missingKey = Code(11, "missing-key")
        /// A map holds the same key twice where keys must be unique.
        public static let duplicateKey = Code(12, "duplicate-key")
        /// The encoder was asked to encode something MessagePack cannot represent.
        public static let unencodable = Code(13, "unencodable")
    }

    /// What went wrong.
    public let code: Code
    /// Byte offset from the start of the input where the problem was found
    /// (`-1` for encoding errors and errors without a position).
    public let offset: Int
    /// A human readable detail, for logs.
    public let detail: String

    public init(_ code: Code, offset: Int, _ detail: String = "") {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "MessagePack \(code) at offset \(offset)" : "MessagePack \(code) at offset \(offset): \(detail)"
    }
}
