import Foundation
import FugitiveWire
import GRDB

/// The persistent, content-addressed half of the store: blobs keyed by SHA-256 in
/// SQLite (through GRDB), bounded in bytes with least-recently-used eviction, plus the
/// URL → digest map with each resource's HTTP metadata.
///
/// Crash-safe by construction and by check: a blob and its URL row are written in one
/// transaction (a killed process leaves the old state or the new, never half), and every
/// read re-hashes the bytes, so a row damaged on disk is found, dropped and reported
/// instead of served.
final class DiskStore: Sendable {
    private let database: DatabaseQueue
    let capacity: Int

    /// Opens (or creates) the store at `path`.
    init(path: String?, capacity: Int) throws(StoreError) {
        self.capacity = capacity
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // Readers never wait for the writer; a crash leaves a consistent file.
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            // No path: an in-memory database, same schema and bounds, gone with the process.
            database = try path.map { try DatabaseQueue(path: $0, configuration: configuration) } ?? DatabaseQueue(configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError(.openFailed, "cannot open the store at \(path ?? ":memory:"): \(error)")
        }
    }

    /// Moves the write-ahead log into the database file and empties it, so that the file
    /// alone holds everything (a lost `-wal` then loses nothing).
    func checkpoint() throws(StoreError) {
        do {
            try database.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        } catch {
            throw StoreError(.writeFailed, "checkpoint failed: \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE blob (
                        digest BLOB PRIMARY KEY NOT NULL,
                        bytes BLOB NOT NULL,
                        size INTEGER NOT NULL,
                        lastAccess INTEGER NOT NULL);
                    CREATE INDEX blob_lastAccess ON blob(lastAccess);
                    CREATE TABLE resource (
                        url TEXT PRIMARY KEY NOT NULL,
                        digest BLOB NOT NULL REFERENCES blob(digest) ON DELETE CASCADE,
                        contentType TEXT, etag TEXT, lastModified TEXT, maxAge INTEGER,
                        storedAt DOUBLE NOT NULL);
                    CREATE INDEX resource_digest ON resource(digest);
                    """)
        }
        return migrator
    }

    /// Stores `bytes` under `digest` (and `metadata.url` when given), then evicts the
    /// least recently used blobs until the store fits its capacity again. Returns the
    /// digests evicted. A blob larger than the whole store is refused (``StoreError/Code/tooLarge``).
    @discardableResult
    func put(_ digest: ResourceDigest, _ bytes: [UInt8], metadata: ResourceMetadata?) throws(StoreError) -> [ResourceDigest] {
        guard bytes.count <= capacity else {
            throw StoreError(.tooLarge, "\(bytes.count) bytes do not fit a store of \(capacity)")
        }
        do {
            return try database.write { db -> [ResourceDigest] in
                let key = Data(digest.bytes)
                try db.execute(
                    // An upsert, not INSERT OR REPLACE: replacing would delete the row
                    // first and cascade to every URL that names these bytes.
                    sql: """
                        INSERT INTO blob (digest, bytes, size, lastAccess) VALUES (?, ?, ?, ?)
                        ON CONFLICT(digest) DO UPDATE SET lastAccess = excluded.lastAccess
                        """,
                    arguments: [key, Data(bytes), bytes.count, try Self.nextAccess(db)])
                if let metadata {
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO resource (url, digest, contentType, etag, lastModified, maxAge, storedAt)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            metadata.url, key, metadata.contentType, metadata.etag, metadata.lastModified, metadata.maxAge, metadata.storedAt,
                        ])
                }
                return try Self.evict(db, capacity: capacity, keeping: key)
            }
        } catch {
            throw StoreError(.writeFailed, "cannot store \(digest): \(error)")
        }
    }

    /// The outcome of a read.
    enum Read: Equatable {
        case hit([UInt8])
        case miss
        /// The row's bytes did not match its digest; it was deleted.
        case corrupted
    }

    /// Reads and verifies the blob for `digest`; a hit becomes the most recently used.
    func get(_ digest: ResourceDigest) throws(StoreError) -> Read {
        do {
            return try database.write { db -> Read in
                let key = Data(digest.bytes)
                guard let data = try Data.fetchOne(db, sql: "SELECT bytes FROM blob WHERE digest = ?", arguments: [key]) else {
                    return .miss
                }
                let bytes = [UInt8](data)
                guard ResourceDigest.sha256(of: bytes) == digest else {
                    try db.execute(sql: "DELETE FROM resource WHERE digest = ?", arguments: [key])
                    try db.execute(sql: "DELETE FROM blob WHERE digest = ?", arguments: [key])
                    return .corrupted
                }
                try db.execute(sql: "UPDATE blob SET lastAccess = ? WHERE digest = ?", arguments: [try Self.nextAccess(db), key])
                return .hit(bytes)
            }
        } catch {
            throw StoreError(.readFailed, "cannot read \(digest): \(error)")
        }
    }

    /// The digest and metadata stored for `url`.
    func resource(for url: String) throws(StoreError) -> (ResourceDigest, ResourceMetadata)? {
        do {
            return try database.read { db -> (ResourceDigest, ResourceMetadata)? in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM resource WHERE url = ?", arguments: [url]),
                    let digest = ResourceDigest(bytes: [UInt8](row["digest"] as Data))
                else { return nil }
                let metadata = ResourceMetadata(
                    url: row["url"], contentType: row["contentType"], etag: row["etag"], lastModified: row["lastModified"],
                    maxAge: row["maxAge"], storedAt: row["storedAt"])
                return (digest, metadata)
            }
        } catch {
            throw StoreError(.readFailed, "cannot look up \(url): \(error)")
        }
    }

    /// Bytes held and blobs, from the database.
    func usage() throws(StoreError) -> (bytes: Int, blobs: Int) {
        do {
            return try database.read { db in
                let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS blobs FROM blob")!
                return (row["bytes"], row["blobs"])
            }
        } catch {
            throw StoreError(.readFailed, "cannot read the store's usage: \(error)")
        }
    }

    /// One entry per stored blob that a URL names (SQLite takes the bare columns from
    /// the row with the newest `storedAt`).
    func heldBlobs() throws(StoreError) -> [HeldBlob] {
        do {
            return try database.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT resource.url AS url, blob.digest AS digest, blob.size AS size, MAX(resource.storedAt)
                        FROM blob JOIN resource ON resource.digest = blob.digest
                        GROUP BY blob.digest
                        """
                ).compactMap { row in
                    ResourceDigest(bytes: [UInt8](row["digest"] as Data)).map {
                        HeldBlob(digest: $0, url: row["url"], size: UInt64(row["size"] as Int))
                    }
                }
            }
        } catch {
            throw StoreError(.readFailed, "cannot list the store's holdings: \(error)")
        }
    }

    /// Digests from the least to the most recently used.
    func recency() throws(StoreError) -> [ResourceDigest] {
        do {
            return try database.read { db in
                try Data.fetchAll(db, sql: "SELECT digest FROM blob ORDER BY lastAccess").compactMap { ResourceDigest(bytes: [UInt8]($0)) }
            }
        } catch {
            throw StoreError(.readFailed, "cannot list the store: \(error)")
        }
    }

    /// Test hook: overwrites a blob's bytes behind the store's back, as a damaged disk would.
    func corruptForTesting(_ digest: ResourceDigest) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE blob SET bytes = zeroblob(size) WHERE digest = ?", arguments: [Data(digest.bytes)])
        }
    }

    /// A logical clock for recency: wall clocks can go backwards.
    private static func nextAccess(_ db: Database) throws -> Int {
        (try Int.fetchOne(db, sql: "SELECT MAX(lastAccess) FROM blob") ?? 0) + 1
    }

    private static func evict(_ db: Database, capacity: Int, keeping kept: Data) throws -> [ResourceDigest] {
        var used = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM blob") ?? 0
        var evicted: [ResourceDigest] = []
        guard used > capacity else { return [] }
        let rows = try Row.fetchCursor(db, sql: "SELECT digest, size FROM blob WHERE digest != ? ORDER BY lastAccess", arguments: [kept])
        var victims: [Data] = []
        while used > capacity, let row = try rows.next() {
            let key: Data = row["digest"]
            victims.append(key)
            used -= row["size"] as Int
        }
        for key in victims {
            try db.execute(sql: "DELETE FROM resource WHERE digest = ?", arguments: [key])
            try db.execute(sql: "DELETE FROM blob WHERE digest = ?", arguments: [key])
            if let digest = ResourceDigest(bytes: [UInt8](key)) { evicted.append(digest) }
        }
        return evicted
    }
}
