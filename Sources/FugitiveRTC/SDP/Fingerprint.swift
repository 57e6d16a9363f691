/// A DTLS certificate fingerprint as carried in `a=fingerprint` (RFC 8122).
///
/// Only SHA-256 is modelled: it is the one algorithm every WebRTC stack both emits
/// and accepts (Chromium and Firefox send only it; aiortc adds SHA-384 and SHA-512
/// next to it), and the DTLS layer verifies the peer certificate against it.
public struct Fingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The hash function name used in SDP.
    public static let algorithm = "sha-256"
    /// The digest length of SHA-256 in bytes.
    public static let byteCount = 32

    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// Creates a fingerprint from a SHA-256 digest.
    /// - Parameter bytes: Exactly 32 bytes; any other length yields `nil`.
    public init?(bytes: some Sequence<UInt8>) {
        let digest = Array(bytes)
        guard digest.count == Self.byteCount else { return nil }
        self.bytes = digest
    }

    /// Parses the value of an `a=fingerprint` attribute, such as
    /// `"sha-256 AB:CD:…"` (32 colon-separated hex bytes, either case).
    ///
    /// Returns `nil` for other algorithms or a malformed digest; use the parser of
    /// ``SessionDescription`` when the reason matters.
    public init?(sdpValue: String) {
        guard let parsed = try? Fingerprint(parsing: Substring(sdpValue)) else { return nil }
        self = parsed
    }

    /// Parses an `a=fingerprint` value, reporting why it was refused.
    init(parsing sdpValue: Substring) throws(SDPError) {
        let fields = SDPSyntax.fields(sdpValue)
        guard fields.count == 2 else {
            throw SDPError(.malformedFingerprint, message: "expected '<algorithm> <hex>', got '\(sdpValue)'")
        }
        // RFC 8122 makes hash function names case-insensitive.
        guard fields[0].lowercased() == Self.algorithm else {
            throw SDPError(.unsupportedFingerprintAlgorithm, message: "fingerprint algorithm '\(fields[0])' is not sha-256")
        }
        let groups = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == Self.byteCount else {
            throw SDPError(
                .malformedFingerprint,
                message: "sha-256 fingerprint has \(groups.count) bytes, expected \(Self.byteCount)"
            )
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(Self.byteCount)
        for group in groups {
            // UInt8(_:radix:) would accept "+F" or a single digit; the grammar wants two hex digits.
            guard group.utf8.count == 2, group.utf8.allSatisfy(Self.isHexDigit), let byte = UInt8(group, radix: 16)
            else {
                throw SDPError(.malformedFingerprint, message: "'\(group)' is not a two-digit hex byte")
            }
            digest.append(byte)
        }
        self.bytes = digest
    }

    /// The attribute value: `sha-256` followed by uppercase colon-separated hex,
    /// the form Chromium, Firefox and aiortc all emit.
    public var sdpValue: String {
        "\(Self.algorithm) \(hexString)"
    }

    /// The digest as uppercase colon-separated hex, without the algorithm name.
    public var hexString: String {
        let digits: [Character] = Array("0123456789ABCDEF")
        var text = ""
        text.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { text.append(":") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// The same as ``sdpValue``.
    public var description: String { sdpValue }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }
}
