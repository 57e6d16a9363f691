import FugitiveRTC

/// SDP texts in the shape real peers send, written with `\n` and converted to the
/// `\r\n` they use on the wire by ``crlf(_:)``.
enum Fixtures {
    static let chromiumFingerprintHex =
        "22:67:A3:82:BF:46:F8:10:60:2F:09:E1:93:B6:D0:32:BF:60:A7:FC:A2:0B:76:EC:EA:53:B3:B3:B5:21:56:B6"
    static let aiortcFingerprintHex =
        "FC:F5:56:AA:A9:C7:E6:49:80:DE:84:B2:3C:72:EC:D0:1D:41:48:7C:91:59:AC:27:1E:86:0A:5A:13:E3:19:E7"
    static let firefoxFingerprintHex =
        "38:60:9A:DE:88:26:A1:36:9F:6F:12:51:AF:0B:DB:4E:F1:8C:14:AB:DF:F9:DD:52:14:F5:67:09:5B:1C:9C:3A"
    static let otherFingerprintHex =
        "A5:39:FD:BC:4F:44:34:8C:BD:41:7D:86:B8:89:A8:87:F6:00:17:E2:CB:21:44:22:71:81:B8:59:B1:87:10:7E"
    static let sha384Hex =
        "23:C6:C0:73:CB:83:21:7D:03:CB:95:9E:1D:35:C4:CA:05:A2:01:43:ED:3C:8C:73:8A:17:7F:BC:40:B1:DE:80:13:AD:65:95:34:E3:BB:19:C6:39:52:1B:A5:7F:91:C3"
    static let sha512Hex =
        "6A:07:18:62:CB:BA:54:0D:2F:38:AF:16:2D:70:30:D0:FD:AC:A1:30:A4:20:07:24:0F:15:B7:39:2B:01:73:A0:9A:2F:40:70:0E:B1:01:01:4D:45:C0:17:14:A5:A6:93:09:E3:3E:55:F1:D6:F1:04:4B:64:CF:10:93:76:8D:32"

    /// Chromium 120+ `pc.localDescription` after gathering, for a peer connection
    /// with one data channel and mDNS-obfuscated host candidates.
    static let chromiumOffer = crlf(
        """
        v=0
        o=- 4215775240449105457 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=extmap-allow-mixed
        a=msid-semantic: WMS
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=candidate:2999745851 1 udp 2122260223 1c3f9ea2-6e9b-4b8e-9c84-2a6b8d1f0e47.local 56143 typ host generation 0 network-id 1
        a=candidate:1467250027 1 tcp 1518280447 1c3f9ea2-6e9b-4b8e-9c84-2a6b8d1f0e47.local 9 typ host tcptype active generation 0 network-id 1
        a=ice-ufrag:Zx3B
        a=ice-pwd:hKxq9jZ9MRVbmRzvvOs1pLc5
        a=ice-options:trickle
        a=fingerprint:sha-256 \(chromiumFingerprintHex)
        a=setup:actpass
        a=mid:0
        a=sctp-port:5000
        a=max-message-size:262144

        """
    )

    /// aiortc 1.x `localDescription` for an offer with one data channel: candidates
    /// before the credentials, three fingerprints, no ice-options, and the m=/c= lines
    /// set from the first candidate.
    static let aiortcOffer = crlf(
        """
        v=0
        o=- 3913456789 3913456789 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=msid-semantic:WMS *
        m=application 50123 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 192.168.1.23
        a=mid:0
        a=sctp-port:5000
        a=max-message-size:65536
        a=candidate:2d0e1b6a6c8f4a3b9e7d5c1f0a2b4c6d 1 udp 2130706431 192.168.1.23 50123 typ host
        a=candidate:0f5e7d9c1b3a5e7f9d1c3b5a7e9f1d3c 1 udp 1694498815 203.0.113.7 50123 typ srflx raddr 192.168.1.23 rport 50123
        a=end-of-candidates
        a=ice-ufrag:c9Xo
        a=ice-pwd:Qk4dW7yZr2pLm9nB3vT6hJ
        a=fingerprint:sha-384 \(sha384Hex)
        a=fingerprint:sha-256 \(aiortcFingerprintHex)
        a=fingerprint:sha-512 \(sha512Hex)
        a=setup:actpass

        """
    )

    /// aiortc's answer to an offer that used the pre-RFC 8841 `DTLS/SCTP` form: it
    /// echoes that form, with `a=sctpmap` instead of `a=sctp-port`.
    static let aiortcLegacyAnswer = crlf(
        """
        v=0
        o=- 3913456790 3913456790 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=msid-semantic:WMS *
        m=application 9 DTLS/SCTP 5001
        c=IN IP4 0.0.0.0
        a=mid:0
        a=sctpmap:5001 webrtc-datachannel 65535
        a=max-message-size:65536
        a=ice-ufrag:Wq1z
        a=ice-pwd:7xKpZ3m0e9QbT4nV2cLr8s
        a=fingerprint:sha-256 \(aiortcFingerprintHex)
        a=fingerprint:sha-384 \(sha384Hex)
        a=setup:active

        """
    )

    /// Firefox: fingerprint and ice-options at session level, hex ICE credentials,
    /// a huge max-message-size.
    static let firefoxOffer = crlf(
        """
        v=0
        o=mozilla...THIS_IS_SDPARTA-128.0 6775211227937734744 0 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=fingerprint:sha-256 \(firefoxFingerprintHex)
        a=group:BUNDLE 0
        a=ice-options:trickle
        a=msid-semantic:WMS *
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=sendrecv
        a=ice-pwd:6f0bf7b2b0e4c1b1c8d0e2c97a5f3e21
        a=ice-ufrag:8a4b2c1d
        a=mid:0
        a=setup:actpass
        a=sctp-port:5000
        a=max-message-size:1073741823

        """
    )

    /// A browser offer with a microphone track and a data channel, bundled.
    static let audioAndDataOffer = crlf(
        """
        v=0
        o=- 8012338021938412133 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0 1
        a=extmap-allow-mixed
        a=msid-semantic: WMS 3c1c2bb1-0fd7-4a5b-bc5e-6d9f0f4f1d6a
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=ice-ufrag:Ab12
        a=ice-pwd:Zr8mQ2pXv7LsT4nW1cYe9kHd
        a=ice-options:trickle
        a=fingerprint:sha-256 \(chromiumFingerprintHex)
        a=setup:actpass
        a=mid:0
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=sendrecv
        a=msid:3c1c2bb1-0fd7-4a5b-bc5e-6d9f0f4f1d6a 8f0e7c36-0b5e-4a4f-9e41-9c7d1b2a3e4f
        a=rtcp-mux
        a=rtpmap:111 opus/48000/2
        a=fmtp:111 minptime=10;useinbandfec=1
        a=ssrc:1234567890 cname:Xy7pQ2rT9sLk4mNb
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=ice-ufrag:Ab12
        a=ice-pwd:Zr8mQ2pXv7LsT4nW1cYe9kHd
        a=ice-options:trickle
        a=fingerprint:sha-256 \(chromiumFingerprintHex)
        a=setup:actpass
        a=mid:1
        a=sctp-port:5000
        a=max-message-size:262144

        """
    )

    /// RFC 8843 max-bundle style: the data section is `bundle-only` with port 0 and
    /// relies on the tagged audio section for its transport.
    static let bundleOnlyOffer = crlf(
        """
        v=0
        o=- 77 1 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=fingerprint:sha-256 \(firefoxFingerprintHex)
        a=group:BUNDLE a0 d1
        m=audio 40000 UDP/TLS/RTP/SAVPF 111
        c=IN IP4 198.51.100.4
        a=ice-ufrag:tAgS
        a=ice-pwd:tAgSpAsSwOrD0123456789ab
        a=candidate:1 1 UDP 2122252543 198.51.100.4 40000 typ host
        a=end-of-candidates
        a=setup:actpass
        a=mid:a0
        a=rtpmap:111 opus/48000/2
        m=application 0 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=bundle-only
        a=mid:d1
        a=sctp-port:5000

        """
    )

    /// Converts `\n` line endings to the `\r\n` of the wire format.
    static func crlf(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
    }

    /// Replaces the first line starting with `prefix` (or removes it when `replacement` is nil).
    static func editing(_ sdp: String, line prefix: String, to replacement: String?) -> String {
        var lines = sdp.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = lines.firstIndex(where: { $0.hasPrefix(prefix) }) else {
            fatalError("fixture has no line starting with \(prefix)")
        }
        if let replacement {
            lines[index] = replacement
        } else {
            lines.remove(at: index)
        }
        return lines.joined(separator: "\r\n")
    }

    static func fingerprint(_ hex: String) -> Fingerprint {
        Fingerprint(sdpValue: "sha-256 \(hex)")!
    }
}
