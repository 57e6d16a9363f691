import FugitiveWire
import Synchronization

/// Bounds concurrent uploads, per link and in total: a peer is never serving more than
/// `total` transfers at once, nor more than `perLink` to any one peer. Beyond that a
/// request is refused (``Grant``). It also keeps the bytes of each blob being served, so
/// that concurrent requests for one blob read and verify it once.
public final class UploadSlots: Sendable {
    public let total: Int
    public let perLink: Int
    private let state = Mutex<(total: Int, byLink: [ObjectIdentifier: Int])>((0, [:]))
    private let serving = Mutex<[ResourceDigest: (bytes: [UInt8], users: Int)]>([:])

    public init(total: Int = 8, perLink: Int = 2) {
        self.total = total
        self.perLink = perLink
    }

    /// What became of a request for a slot.
    enum Grant: Equatable {
        case granted
        /// The link already holds its share: it asks for more than it may.
        case linkFull
        /// Every slot is taken (by other links): try later.
        case allBusy
    }

    /// Takes a slot for `link`.
    func acquire(for link: ObjectIdentifier) -> Grant {
        state.withLock { state in
            guard state.byLink[link, default: 0] < perLink else { return .linkFull }
            guard state.total < total else { return .allBusy }
            state.total += 1
            state.byLink[link, default: 0] += 1
            return .granted
        }
    }

    func release(for link: ObjectIdentifier) {
        state.withLock { state in
            state.total -= 1
            state.byLink[link, default: 1] -= 1
            if state.byLink[link] == 0 { state.byLink[link] = nil }
        }
    }

    /// The bytes of `digest` for an upload: those another upload is serving, else `load`'s.
    /// Every successful check-out is matched by ``checkIn(_:)``.
    func checkOut(_ digest: ResourceDigest, load: () -> [UInt8]?) -> [UInt8]? {
        if let bytes = serving.withLock({ serving -> [UInt8]? in
            guard let entry = serving[digest] else { return nil }
            serving[digest]!.users += 1
            return entry.bytes
        }) {
            return bytes
        }
        // Read outside the lock; two first readers both read, and share from then on.
        guard let bytes = load() else { return nil }
        return serving.withLock { serving in
            if let entry = serving[digest] {
                serving[digest]!.users += 1
                return entry.bytes
            }
            serving[digest] = (bytes, 1)
            return bytes
        }
    }

    func checkIn(_ digest: ResourceDigest) {
        serving.withLock { serving in
            guard let entry = serving[digest] else { return }
            serving[digest] = entry.users > 1 ? (entry.bytes, entry.users - 1) : nil
        }
    }

    /// Uploads under way.
    public var inUse: Int { state.withLock { $0.total } }
    /// Blobs whose bytes are held for uploads under way.
    public var blobsServed: Int { serving.withLock { $0.count } }
}
