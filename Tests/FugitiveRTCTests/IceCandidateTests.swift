import FugitiveRTC
import Testing

@Suite("IceCandidate and TrickledCandidate")
struct IceCandidateTests {
    static let chromiumTrickled =
        "candidate:2999745851 1 udp 2122260223 1c3f9ea2-6e9b-4b8e-9c84-2a6b8d1f0e47.local 56143 typ host generation 0 ufrag Zx3B network-id 1 network-cost 10"

    @Test func parsesChromiumTrickledCandidateKeepingExtensionsInOrder() throws {
        let candidate = try IceCandidate(sdpAttribute: Self.chromiumTrickled)
        #expect(candidate.foundation == "2999745851")
        #expect(candidate.priority == 2_122_260_223)
        #expect(candidate.type == .host)
        #expect(candidate.relatedAddress == nil && candidate.relatedPort == nil && candidate.tcpType == nil)
        #expect(candidate.extensions.map(\.name) == ["generation", "ufrag", "network-id", "network-cost"])
        #expect(candidate.extensionValue(named: "ufrag") == "Zx3B")
        #expect(candidate.extensionValue(named: "missing") == nil)
        #expect(candidate.sdpAttribute == Self.chromiumTrickled)
        #expect(candidate.description == Self.chromiumTrickled)
    }

    @Test(arguments: [
        chromiumTrickled,
        "candidate:842163049 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 192.168.1.5 rport 56143 generation 0 network-id 1",
        "candidate:3 1 tcp 1518280447 2001:db8::5 9 typ host tcptype active generation 0",
        "candidate:4 1 udp 41885439 192.0.2.50 3478 typ relay raddr 203.0.113.9 rport 61000",
        "candidate:5 1 tcp 1518214911 10.0.0.3 50000 typ host tcptype passive",
        "candidate:6 1 udp 1845501695 198.51.100.1 5000 typ prflx raddr 10.0.0.3 rport 5000",
    ])
    func canonicalCandidatesRoundTripExactly(_ text: String) throws {
        let candidate = try IceCandidate(sdpAttribute: text)
        #expect(candidate.sdpAttribute == text)
        #expect(try IceCandidate(sdpAttribute: candidate.sdpAttribute) == candidate)
    }

    @Test func acceptsAEqualsPrefixAndSurroundingWhitespace() throws {
        let plain = try IceCandidate(sdpAttribute: Self.chromiumTrickled)
        #expect(try IceCandidate(sdpAttribute: "a=" + Self.chromiumTrickled) == plain)
        #expect(try IceCandidate(sdpAttribute: "  a=\(Self.chromiumTrickled)\r\n") == plain)
    }

    @Test func transportIsCaseInsensitiveAndWrittenLowercase() throws {
        let firefox = try IceCandidate(sdpAttribute: "candidate:0 1 UDP 2122252543 10.0.0.4 51000 typ host")
        #expect(firefox.transport == .udp)
        #expect(firefox.sdpAttribute == "candidate:0 1 udp 2122252543 10.0.0.4 51000 typ host")
        #expect(try IceCandidate(sdpAttribute: "candidate:0 1 Tcp 1 10.0.0.4 9 typ host tcptype active").transport == .tcp)
    }

    @Test func constructedCandidateSerializes() {
        let candidate = IceCandidate(
            foundation: "abc",
            priority: 100,
            address: "192.0.2.1",
            port: 3478,
            type: .srflx,
            relatedAddress: "10.0.0.1",
            relatedPort: 5000,
            extensions: [.init(name: "generation", value: "0")]
        )
        #expect(candidate.sdpAttribute == "candidate:abc 1 udp 100 192.0.2.1 3478 typ srflx raddr 10.0.0.1 rport 5000 generation 0")
        #expect(!candidate.isMDNSHostname)
    }

    @Test(arguments: [
        ("candidate:1 1 udp 1 10.0.0.1 port typ host", SDPError.Code.malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 65536 typ host", .malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 -1 typ host", .malformedCandidate),
        ("candidate:1 1 udp 4294967296 10.0.0.1 5000 typ host", .malformedCandidate),
        ("candidate:1 one udp 1 10.0.0.1 5000 typ host", .malformedCandidate),
        ("candidate:1 0 udp 1 10.0.0.1 5000 typ host", .malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 5000 host", .malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 5000 type host", .malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2 rport x", .malformedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 5000 typ host generation", .malformedCandidate),
        ("candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype sideways", .malformedCandidate),
        ("1 1 udp 1 10.0.0.1 5000 typ host", .malformedCandidate),
        ("", .malformedCandidate),
        ("candidate:1 1 sctp 1 10.0.0.1 5000 typ host", .unsupportedCandidate),
        ("candidate:1 1 udp 1 10.0.0.1 5000 typ magic", .unsupportedCandidate),
    ])
    func malformedCandidatesAreRefused(_ text: String, _ code: SDPError.Code) {
        let error = #expect(throws: SDPError.self) { try IceCandidate(sdpAttribute: text) }
        #expect(error?.code == code)
        #expect(error?.line == nil)
    }

    @Test func trickledCandidateParsesAndSerializes() throws {
        let trickled = try TrickledCandidate(candidateString: Self.chromiumTrickled, mid: "0", usernameFragment: "Zx3B")
        #expect(!trickled.isEndOfCandidates)
        #expect(trickled.candidate?.port == 56143)
        #expect(trickled.mid == "0")
        #expect(trickled.usernameFragment == "Zx3B")
        #expect(trickled.candidateString == Self.chromiumTrickled)
    }

    @Test(arguments: ["", "   ", "end-of-candidates", "a=end-of-candidates\r\n"])
    func emptyCandidateStringMeansEndOfCandidates(_ text: String) throws {
        let trickled = try TrickledCandidate(candidateString: text, mid: "0")
        #expect(trickled.isEndOfCandidates)
        #expect(trickled == .endOfCandidates(mid: "0"))
        #expect(trickled.candidateString == "")
    }

    @Test func trickledCandidatePropagatesParseErrors() {
        let error = #expect(throws: SDPError.self) {
            try TrickledCandidate(candidateString: "candidate:1 1 udp 1 10.0.0.1 x typ host", mid: "0")
        }
        #expect(error?.code == .malformedCandidate)
    }
}
