import FugitiveRTC
import Testing

/// One broken description and the error it must produce.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let kind: SessionDescription.Kind
    let sdp: String
    let code: SDPError.Code
    /// The expected line number, or nil when the error must not name one.
    let line: Int?

    var testDescription: String { name }

    static func editing(
        _ name: String,
        _ base: String = Fixtures.chromiumOffer,
        kind: SessionDescription.Kind = .offer,
        line prefix: String,
        to replacement: String?,
        code: SDPError.Code,
        line: Int?
    ) -> MalformedCase {
        MalformedCase(
            name: name,
            kind: kind,
            sdp: Fixtures.editing(base, line: prefix, to: replacement),
            code: code,
            line: line
        )
    }
}

@Suite("SessionDescription: malformed input")
struct SessionDescriptionErrorTests {
    // Line numbers refer to Fixtures.chromiumOffer: 8 is m=, 10 and 11 the candidates,
    // 12 ice-ufrag, 13 ice-pwd, 15 fingerprint, 16 setup, 18 sctp-port.
    static let cases: [MalformedCase] = [
        MalformedCase(name: "empty", kind: .offer, sdp: "", code: .malformedLine, line: 1),
        MalformedCase(name: "only blank lines", kind: .offer, sdp: "\r\n\n  \r\n", code: .malformedLine, line: 1),
        .editing("does not start with v=0", line: "v=0", to: "v=1", code: .malformedLine, line: 1),
        .editing("garbage line", line: "s=-", to: "hello world", code: .malformedLine, line: 3),
        .editing("non-numeric session id", line: "o=", to: "o=- abc 2 IN IP4 127.0.0.1", code: .malformedLine, line: 2),
        .editing("truncated m= line", line: "m=", to: "m=application 9", code: .malformedLine, line: 8),
        .editing("m= port out of range", line: "m=", to: "m=application 70000 UDP/DTLS/SCTP webrtc-datachannel", code: .malformedLine, line: 8),
        MalformedCase(
            name: "no m= line",
            kind: .offer,
            sdp: Fixtures.crlf("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=ice-ufrag:abcd\n"),
            code: .missingMediaSection,
            line: nil
        ),
        .editing("only an audio section", line: "m=", to: "m=audio 9 UDP/TLS/RTP/SAVPF 111", code: .noDataChannelSection, line: nil),
        .editing("application section that is not SCTP", line: "m=", to: "m=application 9 UDP/BFCP *", code: .noDataChannelSection, line: nil),
        .editing("rejected data section", line: "m=", to: "m=application 0 UDP/DTLS/SCTP webrtc-datachannel", code: .noDataChannelSection, line: nil),
        .editing("no ice-ufrag", line: "a=ice-ufrag:", to: nil, code: .missingICECredentials, line: nil),
        .editing("no ice-pwd", line: "a=ice-pwd:", to: nil, code: .missingICECredentials, line: nil),
        .editing("ice-ufrag without value", line: "a=ice-ufrag:", to: "a=ice-ufrag", code: .missingICECredentials, line: nil),
        .editing("ufrag too short", line: "a=ice-ufrag:", to: "a=ice-ufrag:abc", code: .invalidICECredentials, line: 12),
        .editing("password too short", line: "a=ice-pwd:", to: "a=ice-pwd:only21charactersxxxxx", code: .invalidICECredentials, line: 13),
        .editing(
            "password with a bad character", line: "a=ice-pwd:", to: "a=ice-pwd:hKxq9jZ9MRVbmRzvvOs1pLc5-", code: .invalidICECredentials, line: 13),
        .editing("no fingerprint", line: "a=fingerprint:", to: nil, code: .missingFingerprint, line: nil),
        .editing(
            "bad fingerprint hex",
            line: "a=fingerprint:",
            to: "a=fingerprint:sha-256 ZZ" + String(Fixtures.chromiumFingerprintHex.dropFirst(2)),
            code: .malformedFingerprint,
            line: 15
        ),
        .editing(
            "31-byte fingerprint",
            line: "a=fingerprint:",
            to: "a=fingerprint:sha-256 " + String(Fixtures.chromiumFingerprintHex.dropFirst(3)),
            code: .malformedFingerprint,
            line: 15
        ),
        .editing(
            "33-byte fingerprint",
            line: "a=fingerprint:",
            to: "a=fingerprint:sha-256 \(Fixtures.chromiumFingerprintHex):00",
            code: .malformedFingerprint,
            line: 15
        ),
        .editing(
            "single-digit byte",
            line: "a=fingerprint:",
            to: "a=fingerprint:sha-256 2" + String(Fixtures.chromiumFingerprintHex.dropFirst(2)),
            code: .malformedFingerprint,
            line: 15
        ),
        .editing("fingerprint without digest", line: "a=fingerprint:", to: "a=fingerprint:sha-256", code: .malformedFingerprint, line: 15),
        .editing(
            "only a sha-1 fingerprint",
            line: "a=fingerprint:",
            to: "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
            code: .unsupportedFingerprintAlgorithm,
            line: 15
        ),
        .editing("unknown setup role", line: "a=setup:", to: "a=setup:sideways", code: .invalidSetupRole, line: 16),
        .editing(
            "answer with actpass",
            Fixtures.aiortcLegacyAnswer,
            kind: .answer,
            line: "a=setup:",
            to: "a=setup:actpass",
            code: .invalidSetupRole,
            line: 16
        ),
        .editing("non-numeric sctp-port", line: "a=sctp-port:", to: "a=sctp-port:five", code: .malformedLine, line: 18),
        .editing("negative max-message-size", line: "a=max-message-size:", to: "a=max-message-size:-1", code: .malformedLine, line: 19),
        .editing(
            "candidate with a non-numeric port",
            line: "a=candidate:2999745851",
            to: "a=candidate:2999745851 1 udp 2122260223 10.0.0.1 port typ host",
            code: .malformedCandidate,
            line: 10
        ),
        .editing(
            "candidate without typ",
            line: "a=candidate:1467250027",
            to: "a=candidate:1467250027 1 tcp 1518280447 10.0.0.1 9 host tcptype active",
            code: .malformedCandidate,
            line: 11
        ),
    ]

    @Test(arguments: cases)
    func malformedInputIsRefusedWithTheRightCode(_ testCase: MalformedCase) {
        let error = #expect(throws: SDPError.self) {
            try SessionDescription(kind: testCase.kind, sdp: testCase.sdp)
        }
        #expect(error?.code == testCase.code)
        #expect(error?.line == testCase.line)
    }

    @Test func errorsDescribeThemselves() {
        let error = SDPError(.malformedFingerprint, line: 15, message: "bad")
        #expect(error.description == "SDP malformed-fingerprint at line 15: bad")
        #expect(SDPError(.missingFingerprint, message: "none").description == "SDP missing-fingerprint: none")
        #expect(SDPError.Code.malformedLine != SDPError.Code.malformedCandidate)
    }

    @Test func theFixtureLineNumbersUsedAboveAreRight() {
        let lines = Fixtures.chromiumOffer.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines[7].hasPrefix("m="))
        #expect(lines[9].hasPrefix("a=candidate:2999745851"))
        #expect(lines[11].hasPrefix("a=ice-ufrag:"))
        #expect(lines[14].hasPrefix("a=fingerprint:"))
        #expect(lines[15].hasPrefix("a=setup:"))
        #expect(lines[17].hasPrefix("a=sctp-port:"))
        #expect(lines[18].hasPrefix("a=max-message-size:"))
    }
}

@Suite("SDP without media")
struct SessionDescriptionWithoutMediaTests {
    /// aiortc's offer when no channel was created yet: no media section at all.
    @Test func anOfferWithNoMediaSectionIsRefused() {
        let sdp = "v=0\r\no=- 4004597696 4004597696 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE \r\na=msid-semantic:WMS *\r\n"
        #expect(throws: SDPError.self) { try SessionDescription(kind: .offer, sdp: sdp) }
    }
}
