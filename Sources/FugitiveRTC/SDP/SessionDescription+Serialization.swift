extension SessionDescription {
    /// The description as SDP text with `\r\n` line endings, in the shape Chromium
    /// itself produces for a data-channel-only session, which Chromium, Firefox and
    /// aiortc all accept:
    ///
    /// ```
    /// v=0
    /// o=- <sessionId> <sessionVersion> IN IP4 127.0.0.1
    /// s=-
    /// t=0 0
    /// a=group:BUNDLE <mid>
    /// a=msid-semantic: WMS
    /// m=application <port> UDP/DTLS/SCTP webrtc-datachannel
    /// c=IN IP4 <connectionAddress>
    /// a=ice-ufrag:… a=ice-pwd:… a=ice-options:… a=fingerprint:sha-256 …
    /// a=setup:… a=mid:… a=sctp-port:… a=max-message-size:…
    /// a=candidate:… a=end-of-candidates
    /// ```
    ///
    /// The data section always uses the RFC 8841 form, even for a description parsed
    /// from the legacy `DTLS/SCTP <port>` form. Entries of ``skippedMedia`` are written
    /// as rejected sections (port 0) at their ``SkippedMediaSection/mediaIndex`` and are
    /// left out of the BUNDLE group, as RFC 8843 requires for rejected sections.
    public var sdp: String {
        var lines: [String] = [
            "v=0",
            // The o= address carries no meaning in WebRTC; Chromium writes 127.0.0.1 too.
            "o=- \(sessionId) \(sessionVersion) IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
        ]
        if iceLite { lines.append("a=ice-lite") }
        lines.append("a=group:BUNDLE \(mid)")
        lines.append("a=msid-semantic: WMS")

        let skipped = skippedMedia.sorted { $0.mediaIndex < $1.mediaIndex }
        // The data section takes the first position no skipped section claims, which is
        // where it was in the offer whose skipped sections these are.
        let claimed = Set(skipped.map(\.mediaIndex))
        let dataIndex = (0...skipped.count).first { !claimed.contains($0) } ?? skipped.count
        for section in skipped where section.mediaIndex < dataIndex {
            lines += section.rejectedLines
        }
        lines += dataSectionLines
        for section in skipped where section.mediaIndex > dataIndex {
            lines += section.rejectedLines
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private var dataSectionLines: [String] {
        // aiortc matches c= with "^IN (IP4|IP6) ([^ ]+)$", so the address type must be right.
        let addressType = connectionAddress.contains(":") ? "IP6" : "IP4"
        var lines = [
            "m=application \(port) UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN \(addressType) \(connectionAddress)",
            "a=ice-ufrag:\(iceUfrag)",
            "a=ice-pwd:\(icePwd)",
        ]
        if !iceOptions.isEmpty {
            lines.append("a=ice-options:\(iceOptions.joined(separator: " "))")
        }
        lines += [
            "a=fingerprint:\(fingerprint.sdpValue)",
            "a=setup:\(setup.rawValue)",
            "a=mid:\(mid)",
            "a=sctp-port:\(sctpPort)",
            "a=max-message-size:\(maxMessageSize)",
        ]
        if let maxDatagramSize {
            lines.append("a=\(Self.maxDatagramAttribute):\(maxDatagramSize)")
        }
        for candidate in candidates {
            lines.append("a=\(candidate.sdpAttribute)")
        }
        if endOfCandidates {
            lines.append("a=end-of-candidates")
        }
        return lines
    }
}
