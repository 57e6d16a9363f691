import FugitiveRTC
import FugitiveTestSupport
import Testing

@Suite("SessionDescription: parsing real peers and serializing")
struct SessionDescriptionTests {
    @Test func parsesChromiumDataChannelOffer() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer)
        #expect(offer.kind == .offer)
        #expect(offer.sessionId == 4_215_775_240_449_105_457)
        #expect(offer.sessionVersion == 2)
        #expect(offer.iceUfrag == "Zx3B")
        #expect(offer.icePwd == "hKxq9jZ9MRVbmRzvvOs1pLc5")
        #expect(offer.iceOptions == ["trickle"])
        #expect(offer.supportsTrickle)
        #expect(!offer.iceLite)
        #expect(offer.fingerprint.sdpValue == "sha-256 \(Fixtures.chromiumFingerprintHex)")
        #expect(offer.fingerprint.bytes.first == 0x22 && offer.fingerprint.bytes.last == 0xB6)
        #expect(offer.setup == .actpass)
        #expect(offer.mid == "0")
        #expect(offer.sctpPort == 5000)
        #expect(offer.maxMessageSize == 262_144)
        #expect(offer.connectionAddress == "0.0.0.0")
        #expect(offer.port == 9)
        #expect(!offer.endOfCandidates)
        #expect(offer.skippedMedia.isEmpty)

        try #require(offer.candidates.count == 2)
        let udp = offer.candidates[0]
        #expect(udp.foundation == "2999745851")
        #expect(udp.component == 1)
        #expect(udp.transport == .udp)
        #expect(udp.priority == 2_122_260_223)
        #expect(udp.address == "1c3f9ea2-6e9b-4b8e-9c84-2a6b8d1f0e47.local")
        #expect(udp.isMDNSHostname)
        #expect(udp.port == 56143)
        #expect(udp.type == .host)
        #expect(udp.extensions == [.init(name: "generation", value: "0"), .init(name: "network-id", value: "1")])
        let tcp = offer.candidates[1]
        #expect(tcp.transport == .tcp)
        #expect(tcp.tcpType == .active)
        #expect(tcp.port == 9)
    }

    @Test func parsesAiortcOfferPickingSHA256AmongSeveralFingerprints() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.aiortcOffer)
        #expect(offer.sessionId == 3_913_456_789)
        #expect(offer.sessionVersion == 3_913_456_789)
        // sha-384 comes first in this fixture: the parser must skip it, not stop at it.
        #expect(offer.fingerprint == Fixtures.fingerprint(Fixtures.aiortcFingerprintHex))
        #expect(offer.iceUfrag == "c9Xo")
        #expect(offer.icePwd == "Qk4dW7yZr2pLm9nB3vT6hJ")
        #expect(offer.iceOptions.isEmpty)
        #expect(!offer.supportsTrickle)
        #expect(offer.maxMessageSize == 65_536)
        #expect(offer.connectionAddress == "192.168.1.23")
        #expect(offer.port == 50123)
        #expect(offer.endOfCandidates)
        try #require(offer.candidates.count == 2)
        let srflx = offer.candidates[1]
        #expect(srflx.type == .srflx)
        #expect(srflx.address == "203.0.113.7")
        #expect(srflx.relatedAddress == "192.168.1.23")
        #expect(srflx.relatedPort == 50123)
        #expect(srflx.extensions.isEmpty)
    }

    @Test func parsesAiortcLegacyAnswerWithSctpmap() throws {
        let answer = try SessionDescription(kind: .answer, sdp: Fixtures.aiortcLegacyAnswer)
        #expect(answer.kind == .answer)
        #expect(answer.setup == .active)
        #expect(answer.setup.dtlsRole == .client)
        #expect(answer.sctpPort == 5001)
        #expect(answer.mid == "0")
        #expect(answer.fingerprint == Fixtures.fingerprint(Fixtures.aiortcFingerprintHex))
    }

    @Test func legacyFormatNumberIsTheSctpPortWhenNoAttributeSaysOtherwise() throws {
        let sdp = Fixtures.editing(Fixtures.aiortcLegacyAnswer, line: "a=sctpmap:", to: nil)
        #expect(try SessionDescription(kind: .answer, sdp: sdp).sctpPort == 5001)
    }

    @Test func absentSctpPortAndMaxMessageSizeTakeRFC8841Defaults() throws {
        var sdp = Fixtures.editing(Fixtures.chromiumOffer, line: "a=sctp-port:", to: nil)
        sdp = Fixtures.editing(sdp, line: "a=max-message-size:", to: nil)
        let offer = try SessionDescription(kind: .offer, sdp: sdp)
        #expect(offer.sctpPort == 5000)
        #expect(offer.maxMessageSize == 65_536)
    }

    /// FugitiveRTC's local-path datagram size: absent from browsers' descriptions, read
    /// when present, and ignored (as an unknown attribute would be) when not a sensible
    /// UDP payload size.
    @Test func maxDatagramSizeIsReadOnlyWhenSensible() throws {
        #expect(try SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer).maxDatagramSize == nil)
        #expect(try SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer).sdp.contains("x-fugitive") == false)
        func parsed(_ value: String) throws -> Int? {
            let sdp = Fixtures.editing(
                Fixtures.chromiumOffer, line: "a=max-message-size:", to: "a=max-message-size:262144\r\na=x-fugitive-max-datagram:\(value)")
            return try SessionDescription(kind: .offer, sdp: sdp).maxDatagramSize
        }
        #expect(try parsed("16000") == 16_000)
        #expect(try parsed("1200") == 1_200)
        #expect(try parsed("800") == nil)
        #expect(try parsed("70000") == nil)
        #expect(try parsed("lots") == nil)
    }

    @Test func parsesFirefoxOfferWithSessionLevelFingerprint() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.firefoxOffer)
        #expect(offer.sessionId == 6_775_211_227_937_734_744)
        #expect(offer.sessionVersion == 0)
        #expect(offer.fingerprint == Fixtures.fingerprint(Fixtures.firefoxFingerprintHex))
        #expect(offer.iceOptions == ["trickle"])
        #expect(offer.iceUfrag == "8a4b2c1d")
        #expect(offer.maxMessageSize == 1_073_741_823)
    }

    @Test func mediaLevelAttributesWinOverSessionLevel() throws {
        let sdp = Fixtures.editing(
            Fixtures.firefoxOffer,
            line: "a=sendrecv",
            to: "a=fingerprint:sha-256 \(Fixtures.otherFingerprintHex)\r\na=ice-options:renomination trickle"
        )
        let offer = try SessionDescription(kind: .offer, sdp: sdp)
        #expect(offer.fingerprint == Fixtures.fingerprint(Fixtures.otherFingerprintHex))
        #expect(offer.iceOptions == ["renomination", "trickle"])
    }

    @Test func sessionLevelIceCredentialsAreUsedWhenMediaHasNone() throws {
        var sdp = Fixtures.editing(Fixtures.chromiumOffer, line: "a=ice-ufrag:", to: nil)
        sdp = Fixtures.editing(sdp, line: "a=ice-pwd:", to: nil)
        sdp = Fixtures.editing(sdp, line: "t=0 0", to: "t=0 0\r\na=ice-ufrag:SeSs\r\na=ice-pwd:sessionLevelPassword0123")
        let offer = try SessionDescription(kind: .offer, sdp: sdp)
        #expect(offer.iceUfrag == "SeSs")
        #expect(offer.icePwd == "sessionLevelPassword0123")
    }

    @Test func lineFeedOnlyInputParsesLikeCRLF() throws {
        let lf = Fixtures.chromiumOffer.split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\n")
        #expect(!lf.contains("\r"))
        let fromLF = try SessionDescription(kind: .offer, sdp: lf)
        let fromCRLF = try SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer)
        #expect(fromLF == fromCRLF)
        #expect(fromLF.candidates.count == 2)
    }

    @Test func unknownLinesAndAttributesAreIgnored() throws {
        let sdp = Fixtures.editing(
            Fixtures.chromiumOffer,
            line: "a=mid:0",
            to: "a=mid:0\r\nb=AS:30\r\na=x-made-up:1 2 3\r\na=recvonly\r\ni=info"
        )
        #expect(try SessionDescription(kind: .offer, sdp: sdp) == SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer))
    }

    @Test func audioPlusApplicationOfferPicksTheDataSection() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.audioAndDataOffer)
        #expect(offer.mid == "1")
        #expect(offer.sctpPort == 5000)
        #expect(offer.iceUfrag == "Ab12")
        #expect(
            offer.skippedMedia == [
                SkippedMediaSection(
                    mediaIndex: 0,
                    media: "audio",
                    proto: "UDP/TLS/RTP/SAVPF",
                    formats: ["111", "63", "9", "0", "8", "13", "110", "126"],
                    mid: "0"
                )
            ]
        )
    }

    @Test func answerToAudioPlusDataRejectsAudioInPlace() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.audioAndDataOffer)
        let credentials = IceCredentials.random()
        let answer = SessionDescription.local(
            kind: .answer,
            ufrag: credentials.ufrag,
            pwd: credentials.password,
            fingerprint: Fixtures.fingerprint(Fixtures.otherFingerprintHex),
            setup: .answering(to: offer.setup),
            mid: offer.mid,
            sessionId: 42,
            skippedMedia: offer.skippedMedia
        )
        let lines = answer.sdp.split(separator: "\r\n").map(String.init)
        let audio = try #require(lines.firstIndex(of: "m=audio 0 UDP/TLS/RTP/SAVPF 111"))
        let application = try #require(lines.firstIndex(of: "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"))
        #expect(audio < application)
        #expect(lines.contains("a=group:BUNDLE 1"))
        #expect(lines[audio + 2] == "a=mid:0")
        #expect(lines.contains("a=setup:active"))

        let reparsed = try SessionDescription(kind: .answer, sdp: answer.sdp)
        #expect(reparsed.mid == "1")
        #expect(reparsed.skippedMedia.map(\.mid) == ["0"])
        #expect(reparsed.skippedMedia.map(\.mediaIndex) == [0])
    }

    @Test func bundleOnlyDataSectionBorrowsTheTaggedTransport() throws {
        let offer = try SessionDescription(kind: .offer, sdp: Fixtures.bundleOnlyOffer)
        #expect(offer.mid == "d1")
        #expect(offer.iceUfrag == "tAgS")
        #expect(offer.fingerprint == Fixtures.fingerprint(Fixtures.firefoxFingerprintHex))
        #expect(offer.candidates.map(\.address) == ["198.51.100.4"])
        #expect(offer.candidates.first?.transport == .udp)
        #expect(offer.endOfCandidates)
        #expect(offer.port == 0)
    }

    @Test func missingMidIsNamedAfterTheSectionIndex() throws {
        let sdp = Fixtures.editing(Fixtures.chromiumOffer, line: "a=mid:", to: nil)
        #expect(try SessionDescription(kind: .offer, sdp: sdp).mid == "0")
        let two = Fixtures.editing(Fixtures.audioAndDataOffer, line: "a=mid:1", to: nil)
        #expect(try SessionDescription(kind: .offer, sdp: two).mid == "1")
    }

    @Test func absentSetupTakesRFC4145Defaults() throws {
        let offerSDP = Fixtures.editing(Fixtures.chromiumOffer, line: "a=setup:", to: nil)
        #expect(try SessionDescription(kind: .offer, sdp: offerSDP).setup == .active)
        let answerSDP = Fixtures.editing(Fixtures.aiortcLegacyAnswer, line: "a=setup:", to: nil)
        #expect(try SessionDescription(kind: .answer, sdp: answerSDP).setup == .passive)
    }

    @Test func unsupportedCandidatesAreSkippedNotFatal() throws {
        let sdp = Fixtures.editing(
            Fixtures.chromiumOffer,
            line: "a=ice-ufrag:",
            to: "a=candidate:1 1 ssltcp 1000 10.0.0.1 443 typ host\r\na=candidate:2 1 udp 1000 10.0.0.1 1 typ weird\r\na=ice-ufrag:Zx3B"
        )
        let offer = try SessionDescription(kind: .offer, sdp: sdp)
        #expect(offer.candidates.count == 2)
    }

    @Test func serializesTheDocumentedShape() throws {
        let candidate = try IceCandidate(sdpAttribute: "candidate:1 1 udp 2130706431 10.0.0.2 40000 typ host")
        let offer = SessionDescription.local(
            kind: .offer,
            ufrag: "uFrA",
            pwd: "passwordPASSWORD012345",
            fingerprint: Fixtures.fingerprint(Fixtures.chromiumFingerprintHex),
            setup: .actpass,
            candidates: [candidate],
            endOfCandidates: true,
            sessionId: 1234,
            sessionVersion: 2
        )
        let expected = Fixtures.crlf(
            """
            v=0
            o=- 1234 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE 0
            a=msid-semantic: WMS
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            c=IN IP4 0.0.0.0
            a=ice-ufrag:uFrA
            a=ice-pwd:passwordPASSWORD012345
            a=ice-options:trickle
            a=fingerprint:sha-256 \(Fixtures.chromiumFingerprintHex)
            a=setup:actpass
            a=mid:0
            a=sctp-port:5000
            a=max-message-size:262144
            a=candidate:1 1 udp 2130706431 10.0.0.2 40000 typ host
            a=end-of-candidates

            """
        )
        #expect(offer.sdp == expected)
    }

    @Test func roundTripPreservesEverything() throws {
        let credentials = IceCredentials.random()
        let candidates = try [
            "candidate:2999745851 1 udp 2122260223 1c3f9ea2-6e9b-4b8e-9c84-2a6b8d1f0e47.local 56143 typ host generation 0 ufrag \(credentials.ufrag) network-id 1 network-cost 10",
            "candidate:842163049 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 0.0.0.0 rport 0 generation 0",
            "candidate:3 1 tcp 1518280447 2001:db8::5 9 typ host tcptype active",
            "candidate:4 1 udp 41885439 192.0.2.50 3478 typ relay raddr 203.0.113.9 rport 61000",
        ].map { try IceCandidate(sdpAttribute: $0) }
        for kind in SessionDescription.Kind.allCases {
            let original = SessionDescription.local(
                kind: kind,
                ufrag: credentials.ufrag,
                pwd: credentials.password,
                fingerprint: Fixtures.fingerprint(Fixtures.otherFingerprintHex),
                setup: kind == .offer ? .actpass : .passive,
                mid: "data",
                sctpPort: 5001,
                maxMessageSize: 1 << 20,
                maxDatagramSize: kind == .offer ? 16_000 : nil,
                candidates: candidates,
                endOfCandidates: true
            )
            let parsed = try SessionDescription(kind: kind, sdp: original.sdp)
            #expect(parsed == original)
            #expect(parsed.sdp == original.sdp)
        }
    }

    @Test func reserializingAParsedRemoteOfferKeepsItsTransport() throws {
        let chromium = try SessionDescription(kind: .offer, sdp: Fixtures.chromiumOffer)
        #expect(try SessionDescription(kind: .offer, sdp: chromium.sdp) == chromium)
        // Legacy input comes out in the RFC 8841 form with the same SCTP port.
        let legacy = try SessionDescription(kind: .answer, sdp: Fixtures.aiortcLegacyAnswer)
        #expect(legacy.sdp.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"))
        #expect(legacy.sdp.contains("a=sctp-port:5001\r\n"))
        #expect(try SessionDescription(kind: .answer, sdp: legacy.sdp) == legacy)
    }

    @Test func ipv6ConnectionAddressKeepsItsAddressType() throws {
        let sdp = Fixtures.editing(Fixtures.aiortcOffer, line: "c=IN IP4", to: "c=IN IP6 2001:db8::1")
        let offer = try SessionDescription(kind: .offer, sdp: sdp)
        #expect(offer.connectionAddress == "2001:db8::1")
        #expect(offer.sdp.contains("\r\nc=IN IP6 2001:db8::1\r\n"))
    }

    @Test func sessionIdsAreRandomButBelowTwoToThe63() {
        var generator = SplitMix64(seed: 7)
        let ids = (0..<100).map { _ in SessionDescription.randomSessionId(using: &generator) }
        #expect(ids.allSatisfy { $0 > 0 && $0 <= UInt64(Int64.max) })
        #expect(Set(ids).count == ids.count)
        var again = SplitMix64(seed: 7)
        #expect(SessionDescription.randomSessionId(using: &again) == ids[0])
    }
}
