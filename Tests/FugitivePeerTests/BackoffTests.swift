import FugitiveTestSupport
import Testing

@testable import FugitivePeer

@Suite("Back-off")
struct BackoffTests {
    @Test func waitsDoubleUpToTheCapWithJitterInTheUpperHalf() {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        var generator = SplitMix64(seed: 42)
        let ceilings: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)]
        var draws: [Duration] = []
        for ceiling in ceilings {
            #expect(backoff.ceiling == ceiling)
            let wait = backoff.next(using: &generator)
            #expect(wait >= ceiling / 2 && wait <= ceiling)
            draws.append(wait)
        }
        // Jitter: not simply the halves.
        #expect(Set(draws.map { $0 / 1 }).count > 4)
        // Far past the cap, no overflow.
        for _ in 0..<200 { _ = backoff.next(using: &generator) }
        #expect(backoff.ceiling == .seconds(30))
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(500))
    }

    @Test func theSameSeedGivesTheSameSchedule() {
        var (a, b) = (Backoff(), Backoff())
        var (ga, gb) = (SplitMix64(seed: 7), SplitMix64(seed: 7))
        for _ in 0..<10 { #expect(a.next(using: &ga) == b.next(using: &gb)) }
    }
}
