import Foundation
import FugitiveServer
import FugitiveWire
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// A ``ClusterStore`` on PostgreSQL: the directory, link graph, holder index and digest
/// registry in tables (see ``PostgresSchema``), liveness as heartbeat rows whose deletion
/// cascades to everything an instance wrote, and messages between instances by
/// `NOTIFY` on a channel per instance — payloads over ``inlineLimit`` go through a
/// mailbox table and travel by reference.
public final class PostgresClusterStore: ClusterStore {
    /// NOTIFY takes at most 8000 bytes; leave room for the channel name.
    public static let inlineLimit = 7_000

    let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    private let expiry = NIOLockedValueBox(Duration.seconds(5))
    private let sequence = NIOLockedValueBox<UInt64>(0)

    /// Connects lazily; ``close()`` when done.
    public init(location: PostgresLocation, logger: Logger) {
        self.location = location
        self.logger = logger
        var configuration = location.clientConfiguration
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.runner = Task { await client.run() }
    }

    /// Stops the connection pool.
    public func close() { runner.cancel() }

    deinit { runner.cancel() }

    static func channel(_ instance: InstanceID) -> String { "fugitive_" + instance.rawValue }

    func nextSequence() -> UInt64 {
        sequence.withLockedValue {
            $0 += 1
            return $0
        }
    }

    public func prepare() async throws {
        try await PostgresSchema.migrate(client, logger: logger)
    }

    // MARK: Liveness

    public func heartbeat(_ instance: InstanceID) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO fugitive_instances (id) VALUES (\(instance.rawValue))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING (xmax = 0)
            """, logger: logger)
        var inserted = false
        for try await value in rows.decode(Bool.self) { inserted = value }
        return inserted
    }

    public func expireInstances(silentFor expiry: Duration) async throws -> Set<InstanceID> {
        self.expiry.withLockedValue { $0 = expiry }
        let seconds = expiry.seconds
        try await client.query("DELETE FROM fugitive_instances WHERE heartbeat_at < now() - make_interval(secs => \(seconds))", logger: logger)
        try await client.query("DELETE FROM fugitive_mailbox WHERE created_at < now() - interval '5 minutes'", logger: logger)
        var alive: Set<InstanceID> = []
        for try await id in try await client.query("SELECT id FROM fugitive_instances", logger: logger).decode(String.self) {
            alive.insert(InstanceID(id))
        }
        return alive
    }

    public func retire(_ instance: InstanceID) async throws {
        try await client.query("DELETE FROM fugitive_instances WHERE id = \(instance.rawValue)", logger: logger)
    }

    // MARK: Directory

    public func apply(_ changes: DirectoryChanges, from instance: InstanceID) async throws {
        let logger = logger
        try await client.withTransaction(logger: logger) { connection in
            if !changes.removed.isEmpty {
                try await connection.query(
                    "DELETE FROM fugitive_peers WHERE id = ANY(\(changes.removed.map(\.rawValue))) AND instance = \(instance.rawValue)",
                    logger: logger)
            }
            if !changes.upserted.isEmpty {
                try await Self.upsert(changes.upserted, connection: connection, logger: logger)
            }
            // Holdings only of rows the writer holds (see PeerRecord.generation): an old
            // owner's late flush changes nothing.
            var (peers, digests) = ([String](), [String]())
            for (peer, removed) in changes.holdingsRemoved {
                for digest in removed {
                    peers.append(peer.rawValue)
                    digests.append(digest.hex)
                }
            }
            if !peers.isEmpty {
                try await connection.query(
                    """
                    DELETE FROM fugitive_holdings h USING unnest(\(peers)::text[], \(digests)::text[]) AS u(peer, digest)
                    WHERE h.peer = u.peer AND h.digest = u.digest
                      AND EXISTS (SELECT 1 FROM fugitive_peers p WHERE p.id = u.peer AND p.instance = \(instance.rawValue))
                    """, logger: logger)
            }
            var (urls, sizes) = ([String](), [Int]())
            (peers, digests) = ([], [])
            for (peer, added) in changes.holdingsAdded {
                for holding in added {
                    peers.append(peer.rawValue)
                    digests.append(holding.digest.hex)
                    urls.append(holding.url)
                    sizes.append(Int(clamping: holding.size))
                }
            }
            if !peers.isEmpty {
                // Only for rows that still exist: a peer removed meanwhile has no holdings.
                try await connection.query(
                    """
                    INSERT INTO fugitive_holdings (peer, digest, url, size)
                    SELECT u.peer, u.digest, u.url, u.size
                    FROM unnest(\(peers)::text[], \(digests)::text[], \(urls)::text[], \(sizes)::bigint[]) AS u(peer, digest, url, size)
                    WHERE EXISTS (SELECT 1 FROM fugitive_peers p WHERE p.id = u.peer AND p.instance = \(instance.rawValue))
                    ON CONFLICT (peer, digest) DO UPDATE SET url = EXCLUDED.url, size = EXCLUDED.size
                    """, logger: logger)
            }
        }
    }

    static func upsert(_ records: [PeerRecord], connection: PostgresConnection, logger: Logger) async throws {
        let ids = records.map(\.id.rawValue)
        let keys = records.map(\.networkKeys)
        let rows = try await connection.query(
            """
            INSERT INTO fugitive_peers (id, instance, swarm, resume_token, max_peers, free_slots, address, near, mid, live, generation)
            SELECT u.id, u.instance, u.swarm, u.token, u.max, u.free, nullif(u.address, ''), nullif(u.near, ''), nullif(u.mid, ''), u.live,
                   u.generation
            FROM unnest(\(ids)::text[], \(records.map(\.instance.rawValue))::text[], \(records.map(\.swarm))::text[],
                        \(records.map(\.resumeToken))::text[], \(records.map(\.maxPeers))::integer[], \(records.map(\.freeSlots))::integer[],
                        \(records.map { $0.address ?? "" })::text[], \(keys.map { $0.map { hex($0.near) } ?? "" })::text[],
                        \(keys.map { $0.map { hex($0.mid) } ?? "" })::text[], \(records.map(\.live))::boolean[],
                        \(records.map(\.generation))::bigint[])
                 AS u(id, instance, swarm, token, max, free, address, near, mid, live, generation)
            ON CONFLICT (id) DO UPDATE SET instance = EXCLUDED.instance, swarm = EXCLUDED.swarm,
                resume_token = EXCLUDED.resume_token, max_peers = EXCLUDED.max_peers, free_slots = EXCLUDED.free_slots,
                address = EXCLUDED.address, near = EXCLUDED.near, mid = EXCLUDED.mid, live = EXCLUDED.live, generation = EXCLUDED.generation
            WHERE EXCLUDED.generation > fugitive_peers.generation
               OR (EXCLUDED.generation = fugitive_peers.generation AND EXCLUDED.instance = fugitive_peers.instance)
            RETURNING id
            """, logger: logger)
        // Rows an old owner's late write did not take (PeerRecord.generation) keep their links.
        var written = Set<String>()
        for try await id in rows.decode(String.self) { written.insert(id) }
        let kept = records.filter { written.contains($0.id.rawValue) }
        // The link graph: each written row's partners, replaced whole.
        try await connection.query("DELETE FROM fugitive_links WHERE peer = ANY(\(kept.map(\.id.rawValue)))", logger: logger)
        var (peers, partners, connected) = ([String](), [String](), [Bool]())
        for record in kept {
            for (partner, up) in record.partners {
                peers.append(record.id.rawValue)
                partners.append(partner.rawValue)
                connected.append(up)
            }
        }
        guard !peers.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO fugitive_links (peer, partner, connected)
            SELECT * FROM unnest(\(peers)::text[], \(partners)::text[], \(connected)::boolean[])
            """, logger: logger)
    }

    // MARK: Lookups

    /// Columns of a peer row, in ``decodeRecords(_:)``'s order.
    static let recordColumns = "p.id, p.instance, p.swarm, p.resume_token, p.max_peers, p.free_slots, p.address, p.live, p.generation"

    func aliveSince() -> Double { expiry.withLockedValue { $0 }.seconds }

    public func openPeers(swarm: String, near address: String?, excluding: InstanceID, skipping: Set<PeerID>, limit: Int) async throws -> [PeerRecord]
    {
        let keys = address.flatMap(NetworkAddress.init)?.networkKeys
        let (near, mid) = (keys.map { hex($0.near) } ?? "", keys.map { hex($0.mid) } ?? "")
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.recordColumns) FROM fugitive_peers p JOIN fugitive_instances i ON i.id = p.instance
            WHERE p.swarm = \(swarm) AND p.live AND p.free_slots > 0 AND p.instance <> \(excluding.rawValue)
              AND NOT (p.id = ANY(\(skipping.map(\.rawValue))::text[]))
              AND i.heartbeat_at >= now() - make_interval(secs => \(aliveSince()))
            ORDER BY coalesce(p.near = \(near), false) DESC, coalesce(p.mid = \(mid), false) DESC, p.free_slots DESC, random()
            LIMIT \(limit)
            """, logger: logger)
        return try await Self.decodeRecords(rows)
    }

    public func holders(swarm: String, digest: ResourceDigest?, url: String?, excluding: InstanceID, limit: Int) async throws -> (
        digest: ResourceDigest?, peers: [PeerRecord]
    ) {
        var resolved = digest
        if resolved == nil, let url {
            let rows = try await client.query(
                """
                SELECT h.digest FROM fugitive_holdings h JOIN fugitive_peers p ON p.id = h.peer
                JOIN fugitive_instances i ON i.id = p.instance
                WHERE h.url = \(url) AND p.swarm = \(swarm) AND p.live
                  AND i.heartbeat_at >= now() - make_interval(secs => \(aliveSince()))
                LIMIT 1
                """, logger: logger)
            for try await hex in rows.decode(String.self) { resolved = ResourceDigest(hex) }
        }
        guard let resolved else { return (nil, []) }
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.recordColumns) FROM fugitive_holdings h JOIN fugitive_peers p ON p.id = h.peer
            JOIN fugitive_instances i ON i.id = p.instance
            WHERE h.digest = \(resolved.hex) AND p.swarm = \(swarm) AND p.live AND p.instance <> \(excluding.rawValue)
              AND i.heartbeat_at >= now() - make_interval(secs => \(aliveSince()))
            ORDER BY p.free_slots DESC
            LIMIT \(limit)
            """, logger: logger)
        return (resolved, try await Self.decodeRecords(rows))
    }

    public func session(resumeToken: String, swarm: String, excluding: InstanceID) async throws -> StoredSession? {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.recordColumns) FROM fugitive_peers p JOIN fugitive_instances i ON i.id = p.instance
            WHERE p.resume_token = \(resumeToken) AND p.swarm = \(swarm) AND p.instance <> \(excluding.rawValue)
              AND i.heartbeat_at >= now() - make_interval(secs => \(aliveSince()))
            """, logger: logger)
        guard var record = try await Self.decodeRecords(rows).first else { return nil }
        for try await (partner, connected) in try await client.query(
            "SELECT partner, connected FROM fugitive_links WHERE peer = \(record.id.rawValue)", logger: logger
        ).decode((String, Bool).self) {
            record.partners[PeerID(partner)] = connected
        }
        var holdings: [Holding] = []
        for try await (hex, url, size) in try await client.query(
            "SELECT digest, url, size FROM fugitive_holdings WHERE peer = \(record.id.rawValue)", logger: logger
        ).decode((String, String, Int).self) {
            if let digest = ResourceDigest(hex) { holdings.append(Holding(digest: digest, url: url, size: UInt64(max(0, size)))) }
        }
        return StoredSession(record: record, holdings: holdings)
    }

    static func decodeRecords(_ rows: PostgresRowSequence) async throws -> [PeerRecord] {
        var records: [PeerRecord] = []
        for try await (id, instance, swarm, token, max, free, address, live, generation) in rows.decode(
            (String, String, String, String, Int, Int, String?, Bool, Int).self)
        {
            records.append(
                PeerRecord(
                    id: PeerID(id), instance: InstanceID(instance), swarm: swarm, resumeToken: token, maxPeers: max, freeSlots: free,
                    address: address, live: live, generation: generation))
        }
        return records
    }

    // MARK: Digest registry

    public func registeredDigest(for url: String) async throws -> RegisteredDigest? {
        let rows = try await client.query(
            """
            SELECT digest, size, extract(epoch FROM expires_at)::float8, piece_root, piece_size
            FROM fugitive_digests WHERE url = \(url) AND expires_at > now()
            """,
            logger: logger)
        for try await (hex, size, expires, rootHex, pieceSize) in rows.decode((String, Int, Double, String?, Int?).self) {
            guard let digest = ResourceDigest(hex) else { return nil }
            // A root without a readable digest or size is no root: the vouch stands without it.
            let root = rootHex.flatMap(ResourceDigest.init)
            return RegisteredDigest(
                digest: digest, size: UInt64(max(0, size)), expiresAt: expires, pieceRoot: root,
                pieceSize: root == nil ? nil : pieceSize)
        }
        return nil
    }

    public func register(_ digest: RegisteredDigest, for url: String) async throws {
        try await client.query(
            """
            INSERT INTO fugitive_digests (url, digest, size, expires_at, piece_root, piece_size)
            VALUES (\(url), \(digest.digest.hex), \(Int(clamping: digest.size)), to_timestamp(\(digest.expiresAt)), \(digest.pieceRoot?.hex), \(digest.pieceSize))
            ON CONFLICT (url) DO UPDATE SET digest = EXCLUDED.digest, size = EXCLUDED.size, expires_at = EXCLUDED.expires_at,
                piece_root = EXCLUDED.piece_root, piece_size = EXCLUDED.piece_size
            """, logger: logger)
    }
}

/// Lowercase hex of bytes (network keys, as stored).
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
