import FugitiveWire
import Testing

@testable import FugitivePeer

/// Which link the manager replaces: failing and benched peers first, then one much slower
/// than the rest — and nothing below target or on too little evidence.
@Suite("Link eviction")
struct LinkEvictionTests {
    /// The peer's own rule: 2 links at target, 3 failures, 4× the median.
    let rule = LinkEviction(targetLinks: 2, maxFailures: 3, slowFactor: 4)

    static func link(_ peer: PeerID, failures: Int = 0, benched: Bool = false, ms: Int? = 20) -> LinkEviction.Candidate {
        .init(peer: peer, failures: failures, benched: benched, roundTrip: ms.map { .milliseconds($0) })
    }

    @Test func aLinkWithThreeFailedTransfersIsReplacedAndTwoAreNotEnough() {
        #expect(rule.victim(among: [Self.link("a"), Self.link("b", failures: 2), Self.link("c")]) == nil)
        #expect(rule.victim(among: [Self.link("a"), Self.link("b", failures: 3), Self.link("c")]) == "b")
    }

    @Test func aBenchedPeerIsReplacedBeforeASlowOne() {
        let links = [Self.link("a"), Self.link("b"), Self.link("c", ms: 900), Self.link("d", benched: true)]
        #expect(rule.victim(among: links) == "d")
    }

    @Test func theSlowestLinkGoesOnlyBeyondFourTimesTheMedianAndTheFloor() {
        // Median 20 ms: 81 ms is not over the 100 ms floor, 120 ms is (and over 80 ms).
        #expect(rule.victim(among: [Self.link("a"), Self.link("b"), Self.link("c", ms: 81)]) == nil)
        #expect(rule.victim(among: [Self.link("a"), Self.link("b"), Self.link("c", ms: 120)]) == "c")
        // Median 50 ms: 190 ms is under 4×, 210 ms is over.
        #expect(rule.victim(among: [Self.link("a", ms: 50), Self.link("b", ms: 50), Self.link("c", ms: 190)]) == nil)
        #expect(rule.victim(among: [Self.link("a", ms: 50), Self.link("b", ms: 50), Self.link("c", ms: 210)]) == "c")
    }

    @Test func withoutThreeRoundTripsOrBelowTargetNothingIsReplaced() {
        // Two measured round trips are no median to compare with.
        #expect(rule.victim(among: [Self.link("a"), Self.link("b", ms: 2_000), Self.link("c", ms: nil)]) == nil)
        // One link under the target of two: replacing it would leave the peer short.
        #expect(rule.victim(among: [Self.link("a", failures: 9)]) == nil)
    }

    static func idle(_ peer: PeerID, ms: Int?, idle: Bool = true) -> LinkEviction.Candidate {
        .init(peer: peer, failures: 0, benched: false, roundTrip: ms.map { .milliseconds($0) }, idle: idle)
    }

    /// After an exploration brought a third link to a peer that wants two, the farthest
    /// idle one goes — when it is far (over 20 ms) and well beyond the nearest (1.5×).
    @Test func overTargetTheFarthestIdleLinkGoesWhenItIsFarAndWellBeyondTheNearest() {
        #expect(rule.farthestBeyondTarget(among: [Self.idle("a", ms: 5), Self.idle("b", ms: 84), Self.idle("c", ms: 8)]) == "b")
        // Busy: the next farthest goes instead.
        #expect(rule.farthestBeyondTarget(among: [Self.idle("a", ms: 30), Self.idle("b", ms: 84, idle: false), Self.idle("c", ms: 8)]) == "a")
        // All near, or within 1.5× of the nearest, or at target: nothing goes.
        #expect(rule.farthestBeyondTarget(among: [Self.idle("a", ms: 5), Self.idle("b", ms: 18), Self.idle("c", ms: 8)]) == nil)
        #expect(rule.farthestBeyondTarget(among: [Self.idle("a", ms: 60), Self.idle("b", ms: 80), Self.idle("c", ms: 70)]) == nil)
        #expect(rule.farthestBeyondTarget(among: [Self.idle("a", ms: 5), Self.idle("b", ms: 84)]) == nil)
    }

    /// A peer at target explores only while its farthest link is far and all are measured;
    /// the interval doubles after each try, and starts over once every link is near.
    @Test func explorationWaitsForFarMeasuredLinksAndBacksOff() {
        var exploration = LinkExploration()
        let start = ContinuousClock.now
        func explore(_ roundTrips: [Duration?], entries: Int? = nil, at seconds: Int) -> Bool {
            exploration.shouldExplore(
                roundTrips: roundTrips, entries: entries ?? roundTrips.count, targetLinks: 2, maxLinks: 4, now: start + .seconds(seconds))
        }
        #expect(!explore([.milliseconds(5), .milliseconds(8)], at: 0), "every link near")
        #expect(!explore([.milliseconds(5), nil], at: 0), "a link not measured yet")
        #expect(!explore([.milliseconds(5), .milliseconds(80)], entries: 3, at: 0), "a pair is being opened")
        #expect(!explore([.milliseconds(80)], at: 0), "under target")
        #expect(!explore([.milliseconds(5), .milliseconds(8), .milliseconds(90)], at: 0), "two near links, whoever else linked")
        #expect(!explore([.milliseconds(5), .milliseconds(80), .milliseconds(90), .milliseconds(99)], at: 0), "no slot free (4 of 4)")
        #expect(explore([.milliseconds(5), .milliseconds(80)], at: 0))
        #expect(exploration.trimAllowed(now: start + .seconds(5)) && !exploration.trimAllowed(now: start + .seconds(31)))
        #expect(!explore([.milliseconds(5), .milliseconds(80)], at: 9), "within the first interval")
        #expect(explore([.milliseconds(5), .milliseconds(80)], at: 10))
        #expect(!explore([.milliseconds(5), .milliseconds(80)], at: 29), "the interval doubled")
        #expect(explore([.milliseconds(5), .milliseconds(80)], at: 30))
        #expect(explore([.milliseconds(5), .milliseconds(80), .milliseconds(90)], at: 70), "over target, the second nearest is far")
        #expect(!explore([.milliseconds(5), .milliseconds(8)], at: 100))
        #expect(exploration.interval == LinkExploration.firstInterval)
    }
}
