@testable import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

extension LiveServerTests {
    /// Vouching cannot be turned into a download amplifier: origin fetches are capped per
    /// peer and in total, failures are remembered, and a dripping origin is cut at the timeout.
    @Suite("Live server: vouching limits")
    struct LiveVouchLimitsTests {
        static func vouch(_ peer: TestPeer, _ url: String, id: UInt32) { peer.send(.vouch(Vouch(requestID: id, url: url))) }

        /// 750 vouches for distinct query strings made the server download 708 MB in 1.6 s.
        @Test func originFetchesAreCappedPerPeer() async throws {
            let origin = try await TestOrigin(["/big.bin": .init(body: [UInt8](repeating: 7, count: 200_000), cacheControl: "max-age=60")])
            defer { Task { await origin.stop() } }
            try await LiveServer.with({
                $0.vouch = VouchConfiguration(allowedOrigins: [origin.url], allowPrivateAddresses: true)
                $0.vouch.fetchesPerMinutePerPeer = 8
                $0.relay.messagesPerSecond = 1000
                $0.relay.messageBurst = 1000
            }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                for id in 0..<100 { Self.vouch(a, origin.url + "/big.bin?q=\(id)", id: UInt32(id)) }
                var vouched = 0
                var refused = 0
                while vouched + refused < 100 {
                    switch try await a.next(timeout: .seconds(20)) {
                    case .vouched: vouched += 1
                    case .error(let error) where error.code == .rateLimited: refused += 1
                    case .error(let error): Issue.record("unexpected \(error.code): \(error.message)"); refused += 1
                    default: continue
                    }
                }
                let fetched = origin.gets("/big.bin")
                print("vouch flood: 100 distinct URLs, \(vouched) vouched, \(refused) refused, \(fetched) origin fetches (\(fetched * 200) KB)")
                // The burst is a quarter of the per-minute rate, and at most 2 are in flight at once.
                #expect(fetched <= 8 && vouched == fetched && refused == 100 - fetched, "\(fetched) fetches")
                // Another peer still gets its vouch.
                let b = TestPeer(server.signalURL)
                _ = try await b.join()
                Self.vouch(b, origin.url + "/big.bin?q=b", id: 1)
                #expect(try await b.expect(timeout: .seconds(10)) { if case .vouched(let v) = $0 { v.requestID } else { nil } } == 1)
            }
        }

        @Test func failuresAreRememberedAndTheTimeoutCoversTheBody() async throws {
            let origin = try await TestOrigin(["/drip": .init(body: [], drips: true)])
            defer { Task { await origin.stop() } }
            try await LiveServer.with({
                $0.vouch = VouchConfiguration(allowedOrigins: [origin.url], allowPrivateAddresses: true)
                $0.vouch.timeout = .seconds(1)
            }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                // A 1 byte/s origin: the vouch fails at its 1 s timeout, not when the body ends.
                let started = ContinuousClock.now
                Self.vouch(a, origin.url + "/drip", id: 1)
                let failure = try await a.expect(timeout: .seconds(20)) { if case .error(let e) = $0, e.requestID == 1 { e } else { nil } }
                let took = ContinuousClock.now - started
                print("dripping origin: vouch failed after \(took): \(failure.message)")
                #expect(failure.code == .originFailed && took < .seconds(4))
                // Failures are answered from memory for a while: no second fetch.
                for id: UInt32 in 2...4 {
                    Self.vouch(a, origin.url + "/missing", id: id)
                    _ = try await a.expect { if case .error(let e) = $0, e.requestID == id { e } else { nil } }
                }
                #expect(origin.gets("/missing") == 1)
            }
        }
    }
}
