/// Random ids and tokens as text: lowercase letters and digits 2–7 (base32's alphabet),
/// so that one can name a PostgreSQL NOTIFY channel or sit in a URL unescaped.
enum RandomText {
    /// At least `bytes` random bytes' worth of text (5 bits per character).
    static func make(bytes: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<(bytes * 8 + 4) / 5).map { _ in alphabet[Int(generator.next() & 31)] })
    }
}
