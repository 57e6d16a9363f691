@testable import FugitiveServer
import FugitiveWire
import Testing

@Suite("Outbox and rate limiter")
struct OutboxTests {
    @Test func aFullOutboxEndsInsteadOfGrowing() async {
        let outbox = Outbox(limit: 16)
        var accepted = 0
        for nonce in 0..<40 where outbox.send(.pong(Heartbeat(nonce: UInt64(nonce)))) { accepted += 1 }
        #expect(accepted == 16)
        #expect(outbox.overflowed)
        var drained = 0
        for await _ in outbox.stream { drained += 1 }
        #expect(drained == 16)
    }

    @Test func closeIsTheLastThingWritten() async {
        let outbox = Outbox(limit: 16)
        outbox.send(.pong(Heartbeat(nonce: 1)))
        outbox.close(WireError(.rateLimited, "x"))
        outbox.send(.pong(Heartbeat(nonce: 2)))
        var items: [String] = []
        for await item in outbox.stream {
            switch item {
            case .message: items.append("message")
            case .close(let error): items.append("close \(error.code.rawValue)")
            }
        }
        #expect(items == ["message", "close 1007"])
        #expect(!outbox.overflowed)
    }

    @Test func theTokenBucketAllowsBurstThenRate() {
        let start = ContinuousClock.now
        var limiter = RateLimiter(rate: 10, burst: 5, now: start)
        func takes(_ n: Int, at instant: ContinuousClock.Instant) -> Int {
            (0..<n).reduce(0) { count, _ in count + (limiter.take(now: instant) ? 1 : 0) }
        }
        #expect(takes(6, at: start) == 5)
        #expect(takes(2, at: start + .milliseconds(100)) == 1)
        // Idle time refills up to the burst, not beyond.
        #expect(takes(10, at: start + .seconds(60)) == 5)
    }
}
