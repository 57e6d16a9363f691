import Foundation
import FugitiveServer
import FugitiveWire
import Logging
import PostgresNIO

/// Messages between instances: `NOTIFY fugitive_<instance>` with the envelope as base64
/// MessagePack, or `@<mailbox id>` when it is too large to go inline.
extension PostgresClusterStore {
    public func send(_ messages: [(to: InstanceID, message: ClusterMessage)], from sender: InstanceID) async throws {
        guard !messages.isEmpty else { return }
        var channels: [String] = []
        var payloads: [String] = []
        var large: [(index: Int, payload: String)] = []
        for (to, message) in messages {
            // A sequence number makes every payload unique: PostgreSQL folds identical
            // notifications of one transaction into one.
            let envelope = ClusterEnvelope(from: sender, sequence: nextSequence(), message: message)
            let payload = Data(try envelope.encoded()).base64EncodedString()
            channels.append(Self.channel(to))
            if payload.utf8.count > Self.inlineLimit {
                large.append((payloads.count, payload))
                payloads.append("")
            } else {
                payloads.append(payload)
            }
        }
        let logger = logger
        try await client.withTransaction(logger: logger) { [large] connection in
            var payloads = payloads
            for (index, payload) in large {
                let rows = try await connection.query("INSERT INTO fugitive_mailbox (payload) VALUES (\(payload)) RETURNING id", logger: logger)
                for try await id in rows.decode(Int.self) { payloads[index] = "@\(id)" }
            }
            // Delivered when the transaction commits, in this order.
            try await connection.query(
                "SELECT count(pg_notify(c, p)) FROM unnest(\(channels)::text[], \(payloads)::text[]) AS t(c, p)", logger: logger)
        }
    }

    public func receive(
        as instance: InstanceID, onReady: @Sendable () async -> Void, _ handle: @Sendable (ClusterEnvelope) async -> Void
    ) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: location.connectionConfiguration, id: Int.random(in: 1..<Int(Int32.max)), logger: logger)
        defer { Task { try? await connection.close() } }
        try await connection.listen(on: Self.channel(instance)) { notifications in
            await onReady()
            for try await notification in notifications {
                do {
                    var payload = notification.payload
                    if payload.hasPrefix("@"), let id = Int(payload.dropFirst()) {
                        payload = try await takeFromMailbox(id)
                    }
                    guard let bytes = Data(base64Encoded: payload) else { throw ClusterPayloadError("not base64") }
                    await handle(try ClusterEnvelope.decode(Array(bytes)))
                } catch {
                    // One bad message (another version, a mailbox row gone) is dropped; the rest go on.
                    logger.warning("cluster: message dropped", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func takeFromMailbox(_ id: Int) async throws -> String {
        for try await payload in try await client.query("DELETE FROM fugitive_mailbox WHERE id = \(id) RETURNING payload", logger: logger)
            .decode(String.self)
        {
            return payload
        }
        throw ClusterPayloadError("mailbox row \(id) is gone")
    }
}

struct ClusterPayloadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
