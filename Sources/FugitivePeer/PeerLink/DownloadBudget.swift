import Synchronization

/// The memory all downloads from peers may hold at once, shared by every link of a peer.
///
/// A transfer is charged for what has arrived (chunk by chunk) and, when it completes, for
/// the bytes it inflates to; the charge is returned when the transfer ends. A transfer
/// that would go over the budget fails with ``PeerLinkError/Code/overBudget`` and the
/// fetch moves on (another peer, the origin), so what peers announce never sizes memory.
public final class DownloadBudget: Sendable {
    /// Bytes all transfers together may hold.
    public let capacity: Int
    private let used = Mutex(0)

    public init(bytes capacity: Int = 512 << 20) {
        precondition(capacity > 0, "a download budget must be positive")
        self.capacity = capacity
    }

    /// Charges `count` bytes; false (nothing charged) when they do not fit.
    func charge(_ count: Int) -> Bool {
        used.withLock { used in
            guard count <= capacity - used else { return false }
            used += count
            return true
        }
    }

    func refund(_ count: Int) { used.withLock { $0 -= count } }

    /// Bytes charged now.
    public var inUse: Int { used.withLock { $0 } }
}

/// One transfer's account with a ``DownloadBudget``: what it was charged, refunded at once
/// when the transfer ends.
final class DownloadCharge: Sendable {
    private let budget: DownloadBudget?
    private let charged = Mutex(0)

    init(_ budget: DownloadBudget?) { self.budget = budget }

    func charge(_ count: Int) -> Bool {
        guard let budget else { return true }
        guard budget.charge(count) else { return false }
        charged.withLock { $0 += count }
        return true
    }

    func refundAll() {
        let total = charged.withLock { total in
            defer { total = 0 }
            return total
        }
        budget?.refund(total)
    }
}
