/// Turns an ``SDPDocument`` into a ``SessionDescription`` for its data channel section.
///
/// Transport attributes are looked up in three scopes, first hit wins:
/// 1. the data channel section itself;
/// 2. the BUNDLE-tagged section (the first mid of the BUNDLE group holding the data
///    channel), because RFC 8843 lets an offerer state the shared transport only there,
///    e.g. when an audio section leads and the data section is `a=bundle-only`;
/// 3. the session part, where Firefox puts `a=fingerprint` and `a=ice-options`.
///
/// "Wins" is per attribute name: a section with any `a=fingerprint` hides every
/// fingerprint of the scopes below it, so levels are never mixed.
enum SessionDescriptionParser {
    static func parse(kind: SessionDescription.Kind, sdp: String) throws(SDPError) -> SessionDescription {
        let document = try SDPDocument(parsing: sdp)
        guard !document.media.isEmpty else {
            throw SDPError(.missingMediaSection, message: "the description has no m= line")
        }
        let dataSections = document.media.filter(isDataChannelSection)
        // Port 0 rejects a section (RFC 3264) unless it is bundle-only (RFC 8843 §6).
        guard let section = dataSections.first(where: { $0.mediaLine!.port != 0 || $0.contains("bundle-only") }) else {
            let message =
                dataSections.isEmpty
                ? "no 'm=application … UDP/DTLS/SCTP webrtc-datachannel' or 'DTLS/SCTP <port>' section"
                : "the data channel section is rejected (port 0)"
            throw SDPError(.noDataChannelSection, message: message)
        }
        let mid = section.mid
        var scopes = [section]
        if let tagged = bundleTaggedSection(for: mid, in: document), tagged.index != section.index {
            scopes.append(tagged)
        }
        scopes.append(document.session)

        let (ufrag, password) = try iceCredentials(in: scopes)
        let candidateSource = scopes.dropLast().first { $0.contains("candidate") }

        return SessionDescription(
            kind: kind,
            sessionId: document.sessionId,
            sessionVersion: document.sessionVersion,
            iceUfrag: ufrag,
            icePwd: password,
            iceOptions: firstAttribute("ice-options", in: scopes)?.value.map { SDPSyntax.fields($0).map(String.init) } ?? [],
            iceLite: scopes.contains { $0.contains("ice-lite") },
            fingerprint: try fingerprint(in: scopes),
            setup: try setupRole(in: scopes, kind: kind),
            mid: mid,
            sctpPort: try sctpPort(of: section),
            maxMessageSize: try maxMessageSize(of: section),
            maxDatagramSize: maxDatagramSize(of: section),
            candidates: try candidates(of: candidateSource),
            endOfCandidates: scopes.contains { $0.contains("end-of-candidates") },
            connectionAddress: String(section.connectionAddress ?? document.session.connectionAddress ?? "0.0.0.0"),
            port: section.mediaLine!.port,
            skippedMedia: document.media.filter { $0.index != section.index }.map(skipped)
        )
    }

    /// `m=application <port> UDP/DTLS/SCTP webrtc-datachannel` (RFC 8841; also the
    /// TCP/DTLS/SCTP variant), or the pre-RFC `m=application <port> DTLS/SCTP 5000`
    /// that aiortc still emits when answering an offer written that way.
    private static func isDataChannelSection(_ section: SDPSection) -> Bool {
        guard let line = section.mediaLine, line.media == "application", line.proto.hasSuffix("DTLS/SCTP") else {
            return false
        }
        return line.formats.contains("webrtc-datachannel") || line.proto == "DTLS/SCTP"
    }

    private static func bundleTaggedSection(for mid: String, in document: SDPDocument) -> SDPSection? {
        for group in document.session.all("group") {
            guard let value = group.value else { continue }
            let fields = SDPSyntax.fields(value)
            guard fields.count >= 2, fields[0] == "BUNDLE", fields.dropFirst().contains(where: { $0 == mid }) else {
                continue
            }
            let taggedMid = String(fields[1])
            return document.media.first { $0.mid == taggedMid && $0.mediaLine!.port != 0 }
        }
        return nil
    }

    private static func firstAttribute(_ name: String, in scopes: [SDPSection]) -> SDPAttribute? {
        for scope in scopes {
            if let attribute = scope.first(name) { return attribute }
        }
        return nil
    }

    private static func iceCredentials(in scopes: [SDPSection]) throws(SDPError) -> (String, String) {
        guard let ufragAttribute = firstAttribute("ice-ufrag", in: scopes), let ufrag = ufragAttribute.value,
            let passwordAttribute = firstAttribute("ice-pwd", in: scopes), let password = passwordAttribute.value
        else {
            throw SDPError(.missingICECredentials, message: "a=ice-ufrag and a=ice-pwd are both required")
        }
        guard IceCredentials.isValidUfrag(String(ufrag)) else {
            throw SDPError(
                .invalidICECredentials,
                line: ufragAttribute.line,
                message: "ice-ufrag must be 4 to 256 characters from [A-Za-z0-9+/]"
            )
        }
        guard IceCredentials.isValidPassword(String(password)) else {
            throw SDPError(
                .invalidICECredentials,
                line: passwordAttribute.line,
                message: "ice-pwd must be 22 to 256 characters from [A-Za-z0-9+/]"
            )
        }
        return (String(ufrag), String(password))
    }

    /// The first sha-256 fingerprint of the winning scope. aiortc lists sha-256,
    /// sha-384 and sha-512 of one certificate; any of them identifies it.
    private static func fingerprint(in scopes: [SDPSection]) throws(SDPError) -> Fingerprint {
        guard let attributes = scopes.lazy.map({ $0.all("fingerprint") }).first(where: { !$0.isEmpty }) else {
            throw SDPError(.missingFingerprint, message: "no a=fingerprint attribute")
        }
        var algorithms: [Substring] = []
        for attribute in attributes {
            let fields = SDPSyntax.fields(attribute.value ?? "")
            guard fields.count == 2 else {
                throw SDPError(.malformedFingerprint, line: attribute.line, message: "expected '<algorithm> <hex>'")
            }
            guard fields[0].lowercased() == Fingerprint.algorithm else {
                algorithms.append(fields[0])
                continue
            }
            do {
                return try Fingerprint(parsing: attribute.value ?? "")
            } catch {
                throw error.at(line: attribute.line)
            }
        }
        throw SDPError(
            .unsupportedFingerprintAlgorithm,
            line: attributes[0].line,
            message: "no sha-256 fingerprint, only \(algorithms.joined(separator: ", "))"
        )
    }

    /// An absent `a=setup` is tolerated with the RFC 4145 §4.1 defaults: `active` in
    /// an offer and `passive` in an answer. Every WebRTC stack we meet sends it anyway.
    private static func setupRole(in scopes: [SDPSection], kind: SessionDescription.Kind) throws(SDPError) -> SetupRole {
        guard let attribute = firstAttribute("setup", in: scopes) else {
            return kind == .offer ? .active : .passive
        }
        guard let role = SetupRole(rawValue: String(attribute.value ?? "")) else {
            throw SDPError(.invalidSetupRole, line: attribute.line, message: "unknown setup role '\(attribute.value ?? "")'")
        }
        if kind == .answer && role == .actpass {
            // The answer has to settle who is the DTLS client (RFC 5763 §5, RFC 8842).
            throw SDPError(.invalidSetupRole, line: attribute.line, message: "an answer must not use setup:actpass")
        }
        return role
    }

    /// `a=sctp-port` (RFC 8841), else the legacy `a=sctpmap:<port> webrtc-datachannel
    /// <streams>`, else the legacy format number of `DTLS/SCTP <port>`, else 5000.
    private static func sctpPort(of section: SDPSection) throws(SDPError) -> UInt16 {
        if let attribute = section.first("sctp-port") {
            guard let value = attribute.value, let port = SDPSyntax.decimal(value, as: UInt16.self) else {
                throw SDPError(.malformedLine, line: attribute.line, message: "sctp-port is not a port number")
            }
            return port
        }
        for attribute in section.all("sctpmap") {
            let fields = SDPSyntax.fields(attribute.value ?? "")
            guard fields.count >= 2, fields[1] == "webrtc-datachannel" else { continue }
            guard let port = SDPSyntax.decimal(fields[0], as: UInt16.self) else {
                throw SDPError(.malformedLine, line: attribute.line, message: "sctpmap port is not a port number")
            }
            return port
        }
        if let line = section.mediaLine, line.proto == "DTLS/SCTP",
            let format = line.formats.first, let port = SDPSyntax.decimal(format, as: UInt16.self)
        {
            return port
        }
        return SessionDescription.defaultSCTPPort
    }

    private static func maxMessageSize(of section: SDPSection) throws(SDPError) -> Int {
        guard let attribute = section.first("max-message-size") else {
            // RFC 8841 §6: absent means 64 KiB.
            return SessionDescription.defaultMaxMessageSize
        }
        guard let value = attribute.value, let size = SDPSyntax.decimal(value, as: Int.self) else {
            throw SDPError(.malformedLine, line: attribute.line, message: "max-message-size is not a number")
        }
        return size
    }

    /// Our own extension: a value that is not a sensible datagram size is ignored (as
    /// an unknown attribute would be), leaving 1200-byte datagrams.
    private static func maxDatagramSize(of section: SDPSection) -> Int? {
        guard let value = section.first(SessionDescription.maxDatagramAttribute)?.value,
            let size = SDPSyntax.decimal(value, as: Int.self), (1200...65_507).contains(size)
        else { return nil }
        return size
    }

    /// Candidates with a transport or type we do not implement are dropped rather than
    /// failing the description: the other candidates may well work.
    private static func candidates(of section: SDPSection?) throws(SDPError) -> [IceCandidate] {
        guard let section else { return [] }
        var result: [IceCandidate] = []
        for attribute in section.all("candidate") {
            do {
                result.append(try IceCandidate(attributeValue: attribute.value ?? ""))
            } catch  where error.code == .unsupportedCandidate {
                continue
            } catch {
                throw error.at(line: attribute.line)
            }
        }
        return result
    }

    private static func skipped(_ section: SDPSection) -> SkippedMediaSection {
        let line = section.mediaLine!
        return SkippedMediaSection(
            mediaIndex: section.index,
            media: String(line.media),
            proto: String(line.proto),
            formats: line.formats.map(String.init),
            mid: section.mid
        )
    }
}
