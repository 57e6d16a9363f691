#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A point in time as carried by the MessagePack timestamp extension (type -1).
///
/// Encoded in the smallest of the three forms the specification defines:
/// 32-bit seconds, 64-bit (30-bit nanoseconds + 34-bit seconds), or 96-bit.
public struct MessagePackTimestamp: Hashable, Sendable, Comparable {
    /// Seconds since 1970-01-01T00:00:00Z; may be negative.
    public var seconds: Int64
    /// Nanoseconds within the second, `0 ..< 1_000_000_000`.
    public var nanoseconds: UInt32

    /// The extension type the specification reserves for timestamps.
    public static let extensionType: Int8 = -1

    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        precondition(nanoseconds < 1_000_000_000, "nanoseconds must be below 10^9")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The timestamp of a `Date`, rounded down to the nanosecond.
    public init(_ date: Date) {
        let interval = date.timeIntervalSince1970
        var seconds = interval.rounded(.down)
        var nanos = ((interval - seconds) * 1e9).rounded()
        if nanos >= 1e9 { seconds += 1; nanos -= 1e9 }
        self.seconds = Int64(seconds)
        self.nanoseconds = UInt32(max(0, nanos))
    }

    /// The same instant as a `Date` (with `Double` precision).
    public var date: Date {
        Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }
}
