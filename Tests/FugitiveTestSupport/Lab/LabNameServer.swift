import NIOCore
import NIOPosix
import Synchronization

/// A DNS server for a ``NetworkLab`` (UDP, port 53 on an address of the test's end): it
/// answers `A` queries for the names it is given, one answer after another — a name whose
/// answers are a public and then a private address is what a DNS-rebinding attacker runs —
/// with a TTL of 0, `AAAA` with no record, and anything else with NXDOMAIN.
public final class LabNameServer: Sendable {
    private let channel: any Channel
    private let log: QueryLog

    /// `A` queries per name, and the answers (a name can be moved while the server runs).
    final class QueryLog: Sendable {
        let counts = Mutex<[String: Int]>([:])
        let answers: Mutex<[String: [[UInt8]]]>

        init(answers: [String: [[UInt8]]]) { self.answers = Mutex(answers) }
    }

    /// - Parameter answers: for each name (lowercase, no trailing dot), the IPv4 addresses
    ///   given to its 1st, 2nd, … `A` query; the last one is repeated.
    public init(host: String, port: Int = 53, answers: [String: [[UInt8]]]) async throws {
        let log = QueryLog(answers: answers)
        self.log = log
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Responder(log: log)) }
            }
            .bind(host: host, port: port).get()
    }

    /// How many `A` queries `name` has had.
    public func queries(_ name: String) -> Int { log.counts.withLock { $0[name, default: 0] } }

    /// From now on `name` resolves to `address` (a service moved: a fail-over).
    public func move(_ name: String, to address: [UInt8]) { log.answers.withLock { $0[name] = [address] } }

    public func stop() async { try? await channel.close() }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let log: QueryLog

        init(log: QueryLog) { self.log = log }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let reply = reply(to: Array(envelope.data.readableBytesView)) else { return }
            context.writeAndFlush(wrapOutboundOut(.init(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))), promise: nil)
        }

        /// The answer to one query (RFC 1035 §4.1); nil for what is not a query.
        func reply(to query: [UInt8]) -> [UInt8]? {
            guard query.count > 12, query[2] & 0x80 == 0 else { return nil }
            var offset = 12
            var labels: [String] = []
            while offset < query.count, query[offset] != 0 {
                let length = Int(query[offset])
                guard length < 64, offset + 1 + length < query.count else { return nil }
                labels.append(String(decoding: query[(offset + 1)..<(offset + 1 + length)], as: UTF8.self).lowercased())
                offset += 1 + length
            }
            guard offset + 5 <= query.count else { return nil }
            let type = UInt16(query[offset + 1]) << 8 | UInt16(query[offset + 2])
            let question = Array(query[12..<(offset + 5)])
            let name = labels.joined(separator: ".")
            var records: [[UInt8]] = []
            var code: UInt8 = 0
            if let sequence = log.answers.withLock({ $0[name] }), !sequence.isEmpty {
                if type == 1 {
                    let index = log.counts.withLock { log -> Int in
                        defer { log[name, default: 0] += 1 }
                        return log[name, default: 0]
                    }
                    records = [sequence[min(index, sequence.count - 1)]]
                }
            } else {
                code = 3  // NXDOMAIN
            }
            var reply = [query[0], query[1], 0x84 | (query[2] & 0x01), 0x80 | code, 0, 1, 0, UInt8(records.count), 0, 0, 0, 0]
            reply += question
            for address in records {
                // A pointer to the question's name, type A, class IN, TTL 0, four bytes.
                reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4] + address
            }
            return reply
        }
    }
}
