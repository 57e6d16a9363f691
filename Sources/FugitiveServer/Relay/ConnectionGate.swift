import NIOConcurrencyHelpers

/// Counts open TCP connections at accept, per client address (IPv6 by its /64, see
/// ``NetworkAddress/limitKey(ipv6Prefix:)``) and in total, before a byte is read: a client
/// that opens connections and says nothing is capped by this, not by the file-descriptor
/// limit that real peers and `/health` would then hit.
final class ConnectionGate: Sendable {
    struct Counts: Sendable {
        var total = 0
        var byAddress: [NetworkAddress: Int] = [:]
        var refused = 0
    }

    let perAddress: Int
    let total: Int
    private let counts = NIOLockedValueBox(Counts())

    init(perAddress: Int, total: Int) {
        self.perAddress = perAddress
        self.total = total
    }

    /// Takes a place for a connection from `address` (`nil`: not capped per address, e.g.
    /// a trusted proxy or a Unix socket). False when a bound is reached; nothing is taken then.
    func enter(_ address: NetworkAddress?) -> Bool {
        counts.withLockedValue { counts in
            guard counts.total < total, address.map({ counts.byAddress[$0, default: 0] < perAddress }) ?? true else {
                counts.refused += 1
                return false
            }
            counts.total += 1
            if let address { counts.byAddress[address, default: 0] += 1 }
            return true
        }
    }

    /// Gives back the place ``enter(_:)`` took.
    func leave(_ address: NetworkAddress?) {
        counts.withLockedValue { counts in
            counts.total -= 1
            guard let address else { return }
            counts.byAddress[address, default: 1] -= 1
            if counts.byAddress[address] == 0 { counts.byAddress[address] = nil }
        }
    }

    /// Open connections and refusals so far.
    var snapshot: (open: Int, refused: Int) { counts.withLockedValue { ($0.total, $0.refused) } }
}

/// The error a refused connection's setup fails with (NIO closes the channel).
struct ConnectionRefused: Error, CustomStringConvertible {
    var description: String { "connection refused: too many open connections" }
}
