/// What a request's `Range` header (RFC 9110 §14.2) asks of a representation of `size`
/// bytes, as the gateway answers it: one range of bytes, the whole, or nothing it can give.
///
/// The gateway serves one range at a time. A header it does not read — another unit, a
/// malformed one, several ranges — is ignored, which RFC 9110 allows: the answer is the
/// whole representation (200). Players and `curl -r` ask for one range.
enum ByteRangeRequest: Equatable {
    /// No range to honour: answer 200 with the whole representation.
    case whole
    /// Answer 206 with these bytes.
    case partial(Range<Int>)
    /// Every range asked lies past the end: answer 416.
    case unsatisfiable

    init(header: String?, size: Int) {
        guard let header else {
            self = .whole
            return
        }
        let text = header.trimmingSpaces
        guard text.count <= 200, text.lowercased().hasPrefix("bytes=") else {
            self = .whole
            return
        }
        let spec = String(text.dropFirst(6)).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let (first, last) = (String(spec[..<dash]).trimmingSpaces, String(spec[spec.index(after: dash)...]).trimmingSpaces)
        switch (Self.position(first), Self.position(last)) {
        case (nil, let suffix?) where first.isEmpty:
            // `-n`: the last n bytes.
            guard suffix > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .partial(max(0, size - suffix)..<size)
        case (let start?, nil) where last.isEmpty:
            self = start < size ? .partial(start..<size) : .unsatisfiable
        case (let start?, let end?) where start <= end:
            self = start < size ? .partial(start..<min(size, end == .max ? size : end + 1)) : .unsatisfiable
        default:
            self = .whole
        }
    }

    /// A byte position: digits only; more than `Int` holds reads as `Int.max` (past any end).
    private static func position(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int(text) ?? .max
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
