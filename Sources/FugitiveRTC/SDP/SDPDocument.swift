/// One `a=` attribute, kept raw.
///
/// Attributes are only interpreted for the section actually used, so that a quirk in
/// an audio or video section we are going to reject cannot fail the whole parse.
struct SDPAttribute {
    /// The part before the first `:`, e.g. `ice-ufrag`.
    let name: Substring
    /// The part after the first `:`, or `nil` for a flag such as `a=end-of-candidates`.
    let value: Substring?
    /// The 1-based line number, for error reports.
    let line: Int
}

/// The parsed `m=` line of a media section.
struct SDPMediaLine {
    let media: Substring
    let port: UInt16
    let proto: Substring
    let formats: [Substring]
    let line: Int
}

/// The session part or one media section of a description.
struct SDPSection {
    /// `nil` for the session part.
    var mediaLine: SDPMediaLine?
    /// The position among `m=` lines; unused for the session part.
    var index: Int
    /// The address of the `c=` line.
    var connectionAddress: Substring?
    var attributes: [SDPAttribute] = []

    func first(_ name: String) -> SDPAttribute? {
        attributes.first { $0.name == name }
    }

    func all(_ name: String) -> [SDPAttribute] {
        attributes.filter { $0.name == name }
    }

    func contains(_ name: String) -> Bool {
        attributes.contains { $0.name == name }
    }

    /// The section's mid, or its index when it has none. Chromium fills in missing
    /// remote mids the same way, so both sides agree on the name of the section.
    var mid: String {
        if let value = first("mid")?.value, !value.isEmpty {
            return String(value)
        }
        return String(index)
    }
}

/// The line structure of an SDP text: session part, `o=` values and media sections.
///
/// This layer checks only the syntax every SDP line shares; what the lines mean is
/// decided by ``SessionDescriptionParser``.
struct SDPDocument {
    var sessionId: UInt64 = 0
    var sessionVersion: UInt64 = 0
    var session = SDPSection(mediaLine: nil, index: -1)
    var media: [SDPSection] = []

    init(parsing text: String) throws(SDPError) {
        var sawVersion = false
        // `Character.isNewline` covers "\n", "\r" and the single Character "\r\n",
        // so every common line-ending convention splits the same way.
        let rawLines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (offset, raw) in rawLines.enumerated() {
            let number = offset + 1
            let line = SDPSyntax.trimmingTrailingBlanks(raw)
            if line.isEmpty { continue }
            let bytes = Array(line.utf8.prefix(2))
            guard bytes.count == 2, bytes[1] == UInt8(ascii: "="), Self.isASCIILetter(bytes[0]) else {
                throw SDPError(.malformedLine, line: number, message: "expected '<type>=<value>', got '\(line.prefix(40))'")
            }
            let type = bytes[0]
            let value = line.dropFirst(2)
            if !sawVersion {
                guard type == UInt8(ascii: "v"), value == "0" else {
                    throw SDPError(.malformedLine, line: number, message: "an SDP must start with 'v=0'")
                }
                sawVersion = true
                continue
            }
            switch type {
            case UInt8(ascii: "o"):
                try parseOrigin(value, line: number)
            case UInt8(ascii: "m"):
                media.append(SDPSection(mediaLine: try Self.parseMediaLine(value, line: number), index: media.count))
            case UInt8(ascii: "c"):
                let fields = SDPSyntax.fields(value)
                guard fields.count >= 3 else {
                    throw SDPError(.malformedLine, line: number, message: "expected 'c=IN IP4 <address>'")
                }
                modifyCurrentSection { $0.connectionAddress = fields[2] }
            case UInt8(ascii: "a"):
                let attribute: SDPAttribute
                if let colon = value.firstIndex(of: ":") {
                    attribute = SDPAttribute(
                        name: value[..<colon],
                        value: value[value.index(after: colon)...],
                        line: number
                    )
                } else {
                    attribute = SDPAttribute(name: value, value: nil, line: number)
                }
                modifyCurrentSection { $0.attributes.append(attribute) }
            default:
                // s=, t=, b=, i=, u=, e=, p=, k=, r=, z=: nothing a data channel needs.
                break
            }
        }
        guard sawVersion else {
            throw SDPError(.malformedLine, line: 1, message: "the SDP is empty")
        }
    }

    private mutating func modifyCurrentSection(_ body: (inout SDPSection) -> Void) {
        if media.isEmpty {
            body(&session)
        } else {
            body(&media[media.count - 1])
        }
    }

    /// `o=<username> <sess-id> <sess-version> IN IP4 <address>`; only the numbers matter.
    private mutating func parseOrigin(_ value: Substring, line: Int) throws(SDPError) {
        let fields = SDPSyntax.fields(value)
        guard fields.count == 6,
            let id = SDPSyntax.decimal(fields[1], as: UInt64.self),
            let version = SDPSyntax.decimal(fields[2], as: UInt64.self)
        else {
            throw SDPError(
                .malformedLine,
                line: line,
                message: "expected 'o=<user> <session-id> <version> IN IP4 <address>' with numeric id and version"
            )
        }
        sessionId = id
        sessionVersion = version
    }

    /// `m=<media> <port>[/<count>] <proto> <format> …`
    private static func parseMediaLine(_ value: Substring, line: Int) throws(SDPError) -> SDPMediaLine {
        let fields = SDPSyntax.fields(value)
        guard fields.count >= 4 else {
            throw SDPError(.malformedLine, line: line, message: "expected 'm=<media> <port> <proto> <format>…'")
        }
        // The "/<count>" suffix only exists for layered multicast; the base port is what counts.
        let portText = fields[1].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let port = SDPSyntax.decimal(portText, as: UInt16.self) else {
            throw SDPError(.malformedLine, line: line, message: "m= port '\(fields[1])' is not a port number")
        }
        return SDPMediaLine(media: fields[0], port: port, proto: fields[2], formats: Array(fields[3...]), line: line)
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
