import FugitiveWire

/// A least-recently-used map from digest to bytes, bounded by the bytes it holds. Not
/// thread-safe: ``ResourceStore`` keeps it under its lock.
///
/// Entries sit in a doubly linked list threaded through an array (most recent at the
/// head), so a hit, an insert and an eviction are O(1) with no allocation per node.
struct MemoryCache {
    private struct Node {
        var digest: ResourceDigest
        var bytes: [UInt8]
        var newer: Int?
        var older: Int?
    }

    let capacity: Int
    private(set) var usedBytes = 0
    private var nodes: [Node] = []
    private var free: [Int] = []
    private var index: [ResourceDigest: Int] = [:]
    private var newest: Int?
    private var oldest: Int?

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { index.count }

    /// The bytes for `digest`, which become the most recently used.
    mutating func get(_ digest: ResourceDigest) -> [UInt8]? {
        guard let slot = index[digest] else { return nil }
        moveToFront(slot)
        return nodes[slot].bytes
    }

    /// Stores `bytes`, evicting the least recently used entries to make room; an entry
    /// larger than the whole cache is not kept. Returns the digests evicted.
    @discardableResult
    mutating func put(_ digest: ResourceDigest, _ bytes: [UInt8]) -> [ResourceDigest] {
        remove(digest)
        guard bytes.count <= capacity else { return [] }
        var evicted: [ResourceDigest] = []
        while usedBytes + bytes.count > capacity, let victim = oldest {
            evicted.append(nodes[victim].digest)
            remove(nodes[victim].digest)
        }
        let node = Node(digest: digest, bytes: bytes, newer: nil, older: newest)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if let newest { nodes[newest].newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
        index[digest] = slot
        usedBytes += bytes.count
        return evicted
    }

    mutating func remove(_ digest: ResourceDigest) {
        guard let slot = index.removeValue(forKey: digest) else { return }
        unlink(slot)
        usedBytes -= nodes[slot].bytes.count
        nodes[slot].bytes = []
        free.append(slot)
    }

    /// Digests from the most to the least recently used (for tests and stats).
    var recency: [ResourceDigest] {
        var result: [ResourceDigest] = []
        var cursor = newest
        while let slot = cursor {
            result.append(nodes[slot].digest)
            cursor = nodes[slot].older
        }
        return result
    }

    private mutating func moveToFront(_ slot: Int) {
        guard newest != slot else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = nil
        if let newest { nodes[newest].newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (nodes[slot].newer, nodes[slot].older)
        if let newer { nodes[newer].older = older } else { newest = older }
        if let older { nodes[older].newer = newer } else { oldest = newer }
        nodes[slot].newer = nil
        nodes[slot].older = nil
    }
}
