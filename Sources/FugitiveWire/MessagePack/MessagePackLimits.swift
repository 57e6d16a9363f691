/// Bounds that keep decoding of hostile input cheap and safe.
///
/// Every declared length or count is also checked against the bytes actually present
/// before anything is allocated, so memory stays proportional to the input.
public struct MessagePackLimits: Sendable, Hashable {
    /// The deepest nesting of arrays and maps accepted. Default 32.
    public var maxDepth: Int
    /// The largest input accepted, in bytes. Default 64 MiB.
    public var maxInputSize: Int

    public init(maxDepth: Int = 32, maxInputSize: Int = 64 << 20) {
        self.maxDepth = maxDepth
        self.maxInputSize = maxInputSize
    }

    /// The defaults: depth 32, 64 MiB.
    public static let `default` = MessagePackLimits()
}
