/// A peer's network address as the server saw it, reduced to what pairing needs:
/// the prefixes that say two peers are probably close.
public struct NetworkAddress: Hashable, Sendable {
    enum Family: Hashable, Sendable { case v4, v6 }

    let family: Family
    /// The address bytes (4 or 16).
    let bytes: [UInt8]

    /// Parses dotted IPv4 (`192.0.2.7`) or IPv6 (`2001:db8::1`, `::ffff:192.0.2.7`);
    /// `nil` for anything else.
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            family = .v4
            bytes = v4
        } else if let v6 = Self.parseIPv6(text) {
            // IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
            if v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xff, v6[11] == 0xff {
                family = .v4
                bytes = Array(v6[12..<16])
            } else {
                family = .v6
                bytes = v6
            }
        } else {
            return nil
        }
    }

    /// Whether the address is loopback (127/8, ::1).
    public var isLoopback: Bool {
        family == .v4 ? bytes[0] == 127 : bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
    }

    /// The address as text (dotted IPv4, or IPv6 as eight hex groups): parses back to
    /// the same address.
    public var text: String {
        switch family {
        case .v4: return bytes.map(String.init).joined(separator: ".")
        case .v6:
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }

    /// How close two addresses are: 2 for the same IPv4 /24 or IPv6 /48, 1 for the same
    /// /16 (both families), 0 otherwise.
    public func proximity(to other: NetworkAddress) -> Int {
        guard family == other.family else { return 0 }
        let near = family == .v4 ? 3 : 6
        if bytes.prefix(near) == other.bytes.prefix(near) { return 2 }
        if bytes.prefix(2) == other.bytes.prefix(2) { return 1 }
        return 0
    }

    /// Keys of the address's near (/24, /48) and mid (/16) networks: two addresses share
    /// a key exactly when ``proximity(to:)`` gives them at least that level.
    public var networkKeys: (near: [UInt8], mid: [UInt8]) {
        let tag: UInt8 = family == .v4 ? 4 : 6
        return ([tag, 2] + bytes.prefix(family == .v4 ? 3 : 6), [tag, 1] + bytes.prefix(2))
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
            result.append(value)
        }
        return result
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, piece.contains("."), let v4 = parseIPv4(piece) {
                    out += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
