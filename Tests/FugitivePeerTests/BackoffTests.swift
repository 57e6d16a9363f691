import Testing

@testable import FugitivePeer

@Suite("Back-off")
struct BackoffTests {
    /// A deterministic generator (SplitMix64).
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    @Test func waitsDoubleUpToTheCapWithJitterInTheUpperHalf() {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        var generator = Seeded(state: 42)
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
        var (ga, gb) = (Seeded(state: 7), Seeded(state: 7))
        for _ in 0..<10 { #expect(a.next(using: &ga) == b.next(using: &gb)) }
    }
}
