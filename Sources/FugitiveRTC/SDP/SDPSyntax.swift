/// Small lexical helpers shared by the SDP parsers.
///
/// They work on Unicode scalars and ASCII only: SDP (RFC 8866) is a byte-oriented
/// format, and Swift's grapheme-cluster `Character` would, for instance, glue a
/// `\r\n` pair into a single element.
enum SDPSyntax {
    /// Splits on runs of spaces and tabs. SDP mandates single spaces, but some
    /// hand-written and older stacks emit doubles, and nothing is lost by accepting them.
    static func fields(_ text: Substring) -> [Substring] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    /// Parses an unsigned decimal made of ASCII digits only.
    ///
    /// Unlike `Int(_:)` this refuses a leading `+` or `-`, which SDP grammars never allow.
    static func decimal<T: FixedWidthInteger>(_ text: Substring, as type: T.Type = T.self) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return T(text, radix: 10)
    }

    /// Removes trailing spaces and tabs, which editors and some stacks leave behind.
    static func trimmingTrailingBlanks(_ text: Substring) -> Substring {
        var end = text.endIndex
        while end > text.startIndex {
            let previous = text.index(before: end)
            guard text[previous] == " " || text[previous] == "\t" else { break }
            end = previous
        }
        return text[text.startIndex..<end]
    }

    /// Removes leading and trailing ASCII whitespace, including `\r` and `\n`.
    static func trimmingWhitespace(_ text: Substring) -> Substring {
        let isBlank: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
            let last = scalars.lastIndex(where: { !isBlank($0) })
        else {
            return text[text.endIndex...]
        }
        return Substring(scalars[first...last])
    }
}
