/// Where ``DTLSSession`` decrypts the records of one datagram: one allocation for the
/// life of a connection instead of an array per record, which at tens of thousands of
/// datagrams a second was a measurable share of the data path.
///
/// Not thread-safe: it belongs to whoever feeds the session datagrams (the connection's
/// receive path, one datagram at a time), and its records are valid until the next
/// datagram is decrypted into it.
public final class DTLSRecordBuffer: @unchecked Sendable {
    /// A datagram is at most 64 KiB, and its records' plaintext is shorter than it.
    public static let capacity = 1 << 16

    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    private var ends: [Int] = []

    public init() { ends.reserveCapacity(4) }

    deinit { storage.deallocate() }

    /// How many records the last datagram held.
    public var count: Int { ends.count }

    /// The plaintext of record `index` of the last datagram.
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        let start = index == 0 ? 0 : ends[index - 1]
        return UnsafeRawBufferPointer(rebasing: storage[start..<ends[index]])
    }

    func removeAll() { ends.removeAll(keepingCapacity: true) }

    /// Room after the last record, for the next one.
    var free: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(ends.last ?? 0)...])
    }

    func appendRecord(ofLength length: Int) { ends.append((ends.last ?? 0) + length) }
}
