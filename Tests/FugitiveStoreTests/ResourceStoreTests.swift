import Synchronization
import Foundation
import FugitiveWire
import Logging
import Testing

@testable import FugitiveStore

@Suite("Store")
struct ResourceStoreTests {
    static let logger = Logger(label: "test.store")

    static func blob(_ seed: UInt8, size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0) &+ seed } }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-store-\(UUID().uuidString).sqlite").path
    }

    @Test func theMemoryCacheEvictsTheLeastRecentlyUsedWithinItsBytes() {
        var cache = MemoryCache(capacity: 300)
        let (a, b, c, d) = (Self.blob(1, size: 100), Self.blob(2, size: 100), Self.blob(3, size: 100), Self.blob(4, size: 100))
        let digests = [a, b, c, d].map { ResourceDigest.sha256(of: $0) }
        cache.put(digests[0], a)
        cache.put(digests[1], b)
        cache.put(digests[2], c)
        // A hit makes `a` the most recent, so `b` is the one to go.
        #expect(cache.get(digests[0]) == a)
        #expect(cache.put(digests[3], d) == [digests[1]])
        #expect(cache.recency == [digests[3], digests[0], digests[2]])
        #expect(cache.usedBytes == 300)
        #expect(cache.get(digests[1]) == nil)
        // Larger than the whole cache: not kept, nothing evicted.
        let huge = Self.blob(9, size: 301)
        #expect(cache.put(ResourceDigest.sha256(of: huge), huge).isEmpty)
        #expect(cache.count == 3)
        // Replacing an entry does not count it twice.
        cache.put(digests[0], a)
        #expect(cache.usedBytes == 300)
    }

    @Test func theDiskStoreIsBoundedAndEvictsInRecencyOrder() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let disk = try DiskStore(path: path, capacity: 1000)
        let blobs = (0..<5).map { Self.blob(UInt8($0), size: 300) }
        let digests = blobs.map { ResourceDigest.sha256(of: $0) }
        for i in 0..<3 { try disk.put(digests[i], blobs[i], metadata: nil) }
        // Reading 0 makes 1 the least recently used.
        #expect(try disk.get(digests[0]) == .hit(blobs[0]))
        #expect(try disk.put(digests[3], blobs[3], metadata: nil) == [digests[1]])
        #expect(try disk.usage().bytes == 900)
        #expect(try disk.recency() == [digests[2], digests[0], digests[3]])
        #expect(try disk.get(digests[1]) == .miss)
    }

    @Test func aBlobLargerThanTheDiskIsRefusedNotSilentlyDropped() throws {
        let store = try ResourceStore(configuration: .init(memoryBytes: 10_000, diskBytes: 1000), logger: Self.logger)
        let big = Self.blob(9, size: 2000)
        #expect(throws: StoreError.self) { try store.store(big) }
        do { try store.store(big) } catch { #expect(error.code == .tooLarge, "\(error)") }
        #expect(try store.heldBlobs().isEmpty)
    }

    @Test func aCheckpointLeavesTheWholeStoreInTheFile() throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let blob = Self.blob(5, size: 200_000)
        let digest: ResourceDigest
        do {
            let store = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
            digest = try store.store(blob, metadata: ResourceMetadata(url: "https://example.org/c", storedAt: 1))
            let wal = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            #expect(wal > blob.count, "the write went to the log first (\(wal) bytes)")
            try store.checkpoint()
            #expect((try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) == 0)
            // The log is lost (what a crash or a careless copy does): nothing is.
            try FileManager.default.removeItem(atPath: path + "-wal")
            try? FileManager.default.removeItem(atPath: path + "-shm")
        }
        let reopened = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
        #expect(try reopened.bytes(for: digest)?.bytes == blob)
        #expect(try reopened.resource(for: "https://example.org/c")?.digest == digest)
    }

    @Test func aDamagedStoreIsRefusedClearlyAndCanBeMovedAside() throws {
        let path = Self.temporaryPath()
        defer {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)) ?? []
            where file.hasPrefix((path as NSString).lastPathComponent) {
                try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent(file).path)
            }
        }
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
            Issue.record("a damaged file opened as a store")
        } catch {
            #expect(error.code == .openFailed && error.message.contains(path), "\(error)")
        }
        let aside = try ResourceStore.moveAside(path)
        #expect(FileManager.default.fileExists(atPath: aside) && !FileManager.default.fileExists(atPath: path))
        let fresh = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
        #expect(try fresh.heldBlobs().isEmpty)
    }

    @Test func entriesSurviveReopeningWithTheirMetadata() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Self.blob(7, size: 5000)
        let metadata = ResourceMetadata(
            url: "https://cdn.example.org/a.png", contentType: "image/png", etag: "\"v1\"", lastModified: "Tue, 24 Nov 2026 10:00:00 GMT",
            maxAge: 600, storedAt: 1_800_000_000)
        let digest: ResourceDigest
        do {
            let store = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
            digest = try store.store(bytes, metadata: metadata)
        }
        let reopened = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
        let found = try #require(try reopened.resource(for: metadata.url))
        #expect(found.digest == digest)
        #expect(found.metadata == metadata)
        let read = try #require(try reopened.bytes(for: digest))
        #expect(read.bytes == bytes)
        #expect(read.tier == .disk)
        // Now also in memory.
        #expect(try reopened.bytes(for: digest)?.tier == .memory)
        #expect(reopened.statistics.diskHits == 1 && reopened.statistics.memoryHits == 1)
    }

    @Test func aCorruptedRowIsDetectedDroppedAndNotServed() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Self.blob(3, size: 2000)
        let digest: ResourceDigest
        do {
            let store = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
            digest = try store.store(bytes, metadata: ResourceMetadata(url: "https://x.example/b", storedAt: 0))
            try store.diskForTesting?.corruptForTesting(digest)
        }
        // A fresh process: nothing in memory, the damaged row is read from disk.
        let reopened = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
        #expect(try reopened.bytes(for: digest) == nil)
        #expect(reopened.statistics.corruptionsDetected == 1)
        #expect(try reopened.resource(for: "https://x.example/b") == nil)
        #expect(try reopened.usage().diskBytes == 0)
    }

    @Test func twoURLsWithTheSameBytesShareOneBlob() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try ResourceStore(configuration: .init(path: path), logger: Self.logger)
        let bytes = Self.blob(5, size: 1000)
        let first = try store.store(bytes, metadata: ResourceMetadata(url: "https://a.example/1", storedAt: 0))
        let second = try store.store(bytes, metadata: ResourceMetadata(url: "https://a.example/2", storedAt: 1))
        #expect(first == second)
        #expect(try store.resource(for: "https://a.example/1")?.digest == first)
        #expect(try store.resource(for: "https://a.example/2")?.digest == first)
        #expect(try store.usage().diskBytes == 1000)
    }

    @Test func bytesAreStoredOnlyUnderTheirOwnDigest() throws {
        let store = try ResourceStore(logger: Self.logger)
        let bytes = Self.blob(1, size: 10)
        let wrong = ResourceDigest.sha256(of: Self.blob(2, size: 10))
        #expect(throws: StoreError.self) { try store.store(bytes, expected: wrong) }
        #expect(try store.bytes(for: ResourceDigest.sha256(of: bytes)) == nil)
        let digest = try store.store(bytes, expected: ResourceDigest.sha256(of: bytes))
        #expect(try store.bytes(for: digest)?.bytes == bytes)
    }

    @Test func holdingsListWhatIsStoredAndEvictionsAreReported() throws {
        let evicted = Mutex<[ResourceDigest]>([])
        // No path: the persistent half lives in an in-memory database, same bound.
        let store = try ResourceStore(configuration: .init(memoryBytes: 10_000, diskBytes: 2_500), logger: Self.logger)
        store.onEviction { digests in evicted.withLock { $0 += digests } }
        let first = try store.store(Self.blob(1, size: 1000), metadata: ResourceMetadata(url: "https://a/1", storedAt: 1))
        let second = try store.store(Self.blob(2, size: 1000), metadata: ResourceMetadata(url: "https://a/2", storedAt: 2))
        #expect(
            Set(try store.heldBlobs()) == [
                HeldBlob(digest: first, url: "https://a/1", size: 1000), HeldBlob(digest: second, url: "https://a/2", size: 1000),
            ])
        #expect(try store.resource(for: "https://a/2")?.digest == second)
        let third = try store.store(Self.blob(3, size: 1000), metadata: ResourceMetadata(url: "https://a/3", storedAt: 3))
        #expect(evicted.withLock { $0 } == [first])
        #expect(Set(try store.heldBlobs().map(\.digest)) == [second, third])
    }
}
