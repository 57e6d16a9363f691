import Foundation
import FugitiveWire
import Logging
import Synchronization

/// The peer's store: a memory LRU in front of a persistent content-addressed store, both
/// bounded in bytes, keyed by SHA-256, with a URL → digest map. Every entry is verified:
/// bytes are stored only under their own digest and re-hashed when read from disk.
public final class ResourceStore: Sendable {
    /// Bounds and location.
    public struct Configuration: Sendable {
        /// Bytes kept in memory (default 64 MiB).
        public var memoryBytes: Int
        /// Bytes kept on disk (default 1 GiB).
        public var diskBytes: Int
        /// The SQLite file; `nil` keeps the persistent half in an in-memory SQLite
        /// database (same bounds, gone with the process).
        public var path: String?

        public init(memoryBytes: Int = 64 << 20, diskBytes: Int = 1 << 30, path: String? = nil) {
            self.memoryBytes = memoryBytes
            self.diskBytes = diskBytes
            self.path = path
        }
    }

    /// Counters since the store opened.
    public struct Statistics: Sendable, Equatable {
        public var memoryHits = 0
        public var diskHits = 0
        public var misses = 0
        /// Disk rows whose bytes no longer matched their digest (dropped, not served).
        public var corruptionsDetected = 0
    }

    private let memory: Mutex<MemoryCache>
    private let disk: DiskStore
    private let counters = Mutex(Statistics())
    private let logger: Logger
    private let evictionHandler = Mutex<(@Sendable ([ResourceDigest]) -> Void)?>(nil)

    public init(configuration: Configuration = .init(), logger: Logger) throws(StoreError) {
        memory = Mutex(MemoryCache(capacity: configuration.memoryBytes))
        disk = try DiskStore(path: configuration.path, capacity: configuration.diskBytes)
        self.logger = logger
    }

    /// Stores `bytes`, which must hash to `expected` when given; returns their digest.
    /// - Throws: ``StoreError/Code/tooLarge`` when they are larger than the whole disk
    ///   store (they stay in memory if they fit there, but are not persisted).
    @discardableResult
    public func store(_ bytes: [UInt8], expected: ResourceDigest? = nil, metadata: ResourceMetadata? = nil) throws(StoreError) -> ResourceDigest {
        let digest = ResourceDigest.sha256(of: bytes)
        if let expected, expected != digest {
            throw StoreError(.digestMismatch, "bytes hash to \(digest), not \(expected)")
        }
        memory.withLock { _ = $0.put(digest, bytes) }
        let evicted = try disk.put(digest, bytes, metadata: metadata)
        if !evicted.isEmpty, let handler = evictionHandler.withLock({ $0 }) { handler(evicted) }
        return digest
    }

    /// The bytes for `digest`: from memory, else from disk (then kept in memory too).
    public func bytes(for digest: ResourceDigest) throws(StoreError) -> StoredBytes? {
        if let bytes = memory.withLock({ $0.get(digest) }) {
            counters.withLock { $0.memoryHits += 1 }
            return StoredBytes(digest: digest, bytes: bytes, tier: .memory)
        }
        switch try disk.get(digest) {
        case .hit(let bytes):
            memory.withLock { _ = $0.put(digest, bytes) }
            counters.withLock { $0.diskHits += 1 }
            return StoredBytes(digest: digest, bytes: bytes, tier: .disk)
        case .corrupted:
            logger.warning("stored bytes no longer match their digest; dropped", metadata: ["digest": "\(digest)"])
            counters.withLock {
                $0.corruptionsDetected += 1
                $0.misses += 1
            }
            return nil
        case .miss:
            counters.withLock { $0.misses += 1 }
            return nil
        }
    }

    /// What is stored for `url`: its digest and metadata (bytes via ``bytes(for:)``).
    public func resource(for url: String) throws(StoreError) -> (digest: ResourceDigest, metadata: ResourceMetadata)? {
        guard let (digest, metadata) = try disk.resource(for: url) else { return nil }
        return (digest, metadata)
    }

    public var statistics: Statistics { counters.withLock { $0 } }

    /// Bytes held in memory and on disk.
    public func usage() throws(StoreError) -> (memoryBytes: Int, diskBytes: Int) {
        (memory.withLock { $0.usedBytes }, try disk.usage().bytes)
    }

    /// What a peer announces as held: one entry per stored blob, with a URL it was stored under.
    public func heldBlobs() throws(StoreError) -> [HeldBlob] { try disk.heldBlobs() }

    /// Called with the digests the persistent store evicted to stay within its bound
    /// (so that the peer can tell the server it no longer holds them).
    public func onEviction(_ handler: @escaping @Sendable ([ResourceDigest]) -> Void) {
        evictionHandler.withLock { $0 = handler }
    }

    /// Writes everything to the database file itself (SQLite's write-ahead log emptied):
    /// done when a peer stops, so that the file alone is the whole cache.
    public func checkpoint() throws(StoreError) { try disk.checkpoint() }

    /// Moves a store that cannot be opened aside (the file and its `-wal`/`-shm`, renamed
    /// with `.damaged-<time>`), so that a fresh one can be created at `path`. Returns
    /// where the old file went.
    public static func moveAside(_ path: String) throws(StoreError) -> String {
        let aside = "\(path).damaged-\(Int(Date().timeIntervalSince1970))"
        let files = FileManager.default
        do {
            for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: path + suffix) {
                try files.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
        } catch {
            throw StoreError(.writeFailed, "cannot move the store at \(path) aside: \(error)")
        }
        return aside
    }

    var diskForTesting: DiskStore? { disk }
}
