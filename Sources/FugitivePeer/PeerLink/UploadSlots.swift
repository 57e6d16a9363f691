import Synchronization

/// Bounds concurrent uploads, per link and in total: a peer is never serving more than
/// `total` transfers at once, nor more than `perLink` to any one peer. Beyond that a
/// request is answered `busy`.
public final class UploadSlots: Sendable {
    public let total: Int
    public let perLink: Int
    private let state = Mutex<(total: Int, byLink: [ObjectIdentifier: Int])>((0, [:]))

    public init(total: Int = 8, perLink: Int = 2) {
        self.total = total
        self.perLink = perLink
    }

    /// Takes a slot for `link`; false when none is free.
    func acquire(for link: ObjectIdentifier) -> Bool {
        state.withLock { state in
            guard state.total < total, state.byLink[link, default: 0] < perLink else { return false }
            state.total += 1
            state.byLink[link, default: 0] += 1
            return true
        }
    }

    func release(for link: ObjectIdentifier) {
        state.withLock { state in
            state.total -= 1
            state.byLink[link, default: 1] -= 1
            if state.byLink[link] == 0 { state.byLink[link] = nil }
        }
    }

    /// Uploads under way.
    public var inUse: Int { state.withLock { $0.total } }
}
