import Foundation
import Logging
import PostgresNIO

/// The cluster's tables, created and upgraded by numbered migrations on start. Two
/// instances starting at once take an advisory lock, so each migration runs once.
enum PostgresSchema {
    /// Each entry runs once, in order, inside the migrating transaction. Append only.
    static let migrations: [String] = [
        """
        CREATE TABLE fugitive_instances (
            id text PRIMARY KEY,
            started_at timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE fugitive_peers (
            id text PRIMARY KEY,
            instance text NOT NULL REFERENCES fugitive_instances(id) ON DELETE CASCADE,
            swarm text NOT NULL,
            resume_token text NOT NULL UNIQUE,
            max_peers integer NOT NULL,
            free_slots integer NOT NULL,
            address text,
            near text,
            mid text,
            live boolean NOT NULL
        );
        CREATE INDEX fugitive_peers_open ON fugitive_peers (swarm) WHERE live AND free_slots > 0;
        CREATE INDEX fugitive_peers_instance ON fugitive_peers (instance);
        CREATE TABLE fugitive_links (
            peer text NOT NULL REFERENCES fugitive_peers(id) ON DELETE CASCADE,
            partner text NOT NULL,
            connected boolean NOT NULL,
            PRIMARY KEY (peer, partner)
        );
        CREATE TABLE fugitive_holdings (
            peer text NOT NULL REFERENCES fugitive_peers(id) ON DELETE CASCADE,
            digest text NOT NULL,
            url text NOT NULL,
            size bigint NOT NULL,
            PRIMARY KEY (peer, digest)
        );
        CREATE INDEX fugitive_holdings_digest ON fugitive_holdings (digest);
        CREATE INDEX fugitive_holdings_url ON fugitive_holdings (url);
        CREATE TABLE fugitive_digests (
            url text PRIMARY KEY,
            digest text NOT NULL,
            size bigint NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE TABLE fugitive_mailbox (
            id bigserial PRIMARY KEY,
            payload text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """,
        // 2: which takeover of a session a row is (PeerRecord.generation).
        "ALTER TABLE fugitive_peers ADD COLUMN generation bigint NOT NULL DEFAULT 0;",
        // 3: the piece tree vouched with a digest (RegisteredDigest.pieceRoot, .pieceSize).
        "ALTER TABLE fugitive_digests ADD COLUMN piece_root text; ALTER TABLE fugitive_digests ADD COLUMN piece_size integer;",
    ]

    /// An arbitrary constant naming the migration lock.
    static let lockKey = 0x6675_6769_7469_7665

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS fugitive_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM fugitive_schema", logger: logger).decode(
                Int.self)
            {
                applied = version
            }
            for (index, sql) in migrations.enumerated() where index + 1 > applied {
                for statement in sql.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO fugitive_schema (version) VALUES (\(index + 1))", logger: logger)
                logger.info("cluster: schema migrated", metadata: ["version": "\(index + 1)"])
            }
        }
    }
}
