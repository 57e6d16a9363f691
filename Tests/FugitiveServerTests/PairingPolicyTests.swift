import FugitiveServer
import FugitiveWire
import Testing

@Suite struct PairingPolicyTests {
    let policy = PairingPolicy()
    typealias Candidate = PairingPolicy.Candidate

    @Test func networkProximity() {
        let a = NetworkAddress("192.0.2.7")!
        #expect(a.proximity(to: NetworkAddress("192.0.2.200")!) == 2)
        #expect(a.proximity(to: NetworkAddress("192.0.9.1")!) == 1)
        #expect(a.proximity(to: NetworkAddress("10.0.2.7")!) == 0)
        #expect(a.proximity(to: NetworkAddress("::ffff:192.0.2.9")!) == 2)
        let b = NetworkAddress("2001:db8:1::5")!
        #expect(b.proximity(to: NetworkAddress("2001:db8:1:ff::1")!) == 2)
        #expect(b.proximity(to: NetworkAddress("2001:db8:2::1")!) == 1)
        #expect(b.proximity(to: a) == 0)
        #expect(NetworkAddress("300.1.1.1") == nil)
        #expect(NetworkAddress("1:2:3") == nil)
        #expect(NetworkAddress("fe80::1%eth0") != nil)
    }

    @Test func rttBeatsPrefixBeatsNothing() {
        let me = NetworkAddress("192.0.2.1")
        let candidates = [
            Candidate(id: "far", address: NetworkAddress("10.1.1.1"), freeSlots: 4),
            Candidate(id: "near", address: NetworkAddress("192.0.2.9"), freeSlots: 4),
            Candidate(id: "sameSlash16", address: NetworkAddress("192.0.7.9"), freeSlots: 4),
            Candidate(id: "measuredSlow", address: NetworkAddress("10.9.9.9"), freeSlots: 4, rttMillis: 80),
            Candidate(id: "measuredFast", address: NetworkAddress("10.9.9.8"), freeSlots: 1, rttMillis: 5),
        ]
        let ranked = policy.rank(asker: "me", address: me, excluding: [], candidates: candidates).map(\.id)
        #expect(ranked == ["measuredFast", "measuredSlow", "near", "sameSlash16", "far"])
    }

    @Test func capacityThenContentBreakTies() {
        let ranked = policy.rank(
            asker: "me", address: nil, excluding: [],
            candidates: [
                Candidate(id: "a", address: nil, freeSlots: 1, wantedHeld: 3),
                Candidate(id: "b", address: nil, freeSlots: 5),
                Candidate(id: "c", address: nil, freeSlots: 1, wantedHeld: 0),
            ]
        ).map(\.id)
        #expect(ranked == ["b", "a", "c"])
    }

    @Test func neverSelfPartnersOrFullPeers() {
        let chosen = policy.choose(
            10, asker: "me", address: nil, excluding: ["partner"],
            candidates: [
                Candidate(id: "me", address: nil, freeSlots: 3),
                Candidate(id: "partner", address: nil, freeSlots: 3),
                Candidate(id: "full", address: nil, freeSlots: 0),
                Candidate(id: "ok", address: nil, freeSlots: 1),
            ]
        ).map(\.id)
        #expect(chosen == ["ok"])
    }
}
