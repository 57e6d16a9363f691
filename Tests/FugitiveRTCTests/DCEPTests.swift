import Testing

@testable import FugitiveRTC

@Suite("DCEP")
struct DCEPTests {
    @Test func openRoundTripsAndMatchesRFC8832Layout() throws {
        let open = DCEP.Open(reliability: .reliableOrdered, priority: 256, label: "chat", protocol: "")
        let bytes = DCEP.serialize(.open(open))
        // type, channel type, priority, reliability parameter, label length, protocol length, label.
        #expect(bytes == [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 4, 0, 0] + Array("chat".utf8))
        #expect(try DCEP.parse(bytes) == .open(open))
        #expect(try DCEP.parse([0x02]) == .ack)
    }

    @Test func partialReliabilityKindsSurvive() throws {
        for reliability in [
            DCEP.Reliability(ordered: false, limit: nil), DCEP.Reliability(ordered: true, limit: .retransmits(3)),
            DCEP.Reliability(ordered: false, limit: .lifetimeMilliseconds(1500)),
        ] {
            let open = DCEP.Open(reliability: reliability, priority: 0, label: "x", protocol: "p")
            #expect(try DCEP.parse(DCEP.serialize(.open(open))) == .open(open))
        }
    }

    @Test func malformedMessagesAreRefused() {
        #expect(throws: DCEP.ParseError.self) { try DCEP.parse([]) }
        #expect(throws: DCEP.ParseError.self) { try DCEP.parse([0x07]) }
        #expect(throws: DCEP.ParseError.self) { try DCEP.parse([0x03, 0, 0]) }
        // The label claims 200 bytes; 3 are there.
        #expect(throws: DCEP.ParseError.self) { try DCEP.parse([0x03, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 1, 2, 3]) }
        #expect(throws: DCEP.ParseError.self) { try DCEP.parse([0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
    }
}
