@testable import FugitiveServer
import FugitiveWire
import Testing

@Suite("Outbound queue and rate limiter")
struct OutboundQueueTests {
    @Test func aFullQueueEndsWithRateLimitedInsteadOfGrowing() {
        var queue = OutboundQueue(limit: 16)
        var accepted = 0
        var drains = 0
        for nonce in 0..<40 {
            let (outcome, action) = queue.send(.pong(Heartbeat(nonce: UInt64(nonce))))
            if outcome == .queued { accepted += 1 }
            // The overflow is reported once; later messages are simply refused.
            #expect(outcome == (nonce < 16 ? .queued : nonce == 16 ? .overflowed : .refused))
            if action == .scheduleDrain { drains += 1 }
        }
        #expect(accepted == 16)
        #expect(queue.overflowed)
        // One drain is asked for, however many messages wait.
        #expect(drains == 1)
        let items = queue.drain(writable: true)
        #expect(items.count == 17)
        guard case .close(let error) = items.last else {
            Issue.record("the last item is not a close: \(String(describing: items.last))")
            return
        }
        #expect(error.code == .rateLimited)
    }

    @Test func closeIsTheLastThingWritten() {
        var queue = OutboundQueue(limit: 16)
        _ = queue.send(.pong(Heartbeat(nonce: 1)))
        #expect(queue.close(WireError(.rateLimited, "x")) == .none)
        #expect(queue.send(.pong(Heartbeat(nonce: 2))).outcome == .refused)
        let items = queue.drain(writable: true).map { item in
            switch item {
            case .message: "message"
            case .close(let error): "close \(error.code.rawValue)"
            }
        }
        #expect(items == ["message", "close 1007"])
        #expect(!queue.overflowed)
    }

    @Test func messagesWaitWhileTheSocketIsFullButACloseDoesNot() {
        var queue = OutboundQueue(limit: 16)
        #expect(queue.send(.pong(Heartbeat(nonce: 1))).action == .scheduleDrain)
        #expect(queue.drain(writable: false).isEmpty)
        // The drain ran, so the next message asks for another.
        #expect(queue.send(.pong(Heartbeat(nonce: 2))).action == .scheduleDrain)
        #expect(queue.close(WireError(.shuttingDown, "bye")) == .none)
        #expect(queue.drain(writable: false).count == 3)
        queue.finish()
        #expect(queue.send(.pong(Heartbeat(nonce: 3))).outcome == .refused)
        #expect(queue.drain(writable: true).isEmpty)
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
