/// An ICE username fragment and password pair (RFC 8839 §5.4).
///
/// Both are made of `ice-char`s, `[A-Za-z0-9+/]`; the ufrag is 4 to 256 characters
/// and the password 22 to 256. Chromium refuses descriptions outside these bounds,
/// so the parser of ``SessionDescription`` enforces them too.
public struct IceCredentials: Sendable, Hashable {
    /// The `ice-char` alphabet: exactly 64 characters, so a uniformly random index
    /// gives each character the same chance.
    public static let alphabet: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    /// The shortest ufrag RFC 8839 allows.
    public static let minimumUfragLength = 4
    /// The shortest password RFC 8839 allows.
    public static let minimumPasswordLength = 22
    /// The longest ufrag or password RFC 8839 allows.
    public static let maximumLength = 256

    /// The username fragment (`a=ice-ufrag`).
    public let ufrag: String
    /// The password (`a=ice-pwd`).
    public let password: String

    /// Validates and wraps existing credentials.
    /// - Returns: `nil` when either value breaks the length or character rules.
    public init?(ufrag: String, password: String) {
        guard Self.isValidUfrag(ufrag), Self.isValidPassword(password) else { return nil }
        self.ufrag = ufrag
        self.password = password
    }

    private init(unchecked ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// Generates fresh credentials from the system's cryptographically secure generator.
    ///
    /// The password authenticates STUN connectivity checks, so it must be unpredictable.
    /// - Parameters:
    ///   - ufragLength: At least 4. The default of 8 gives 48 bits, enough to keep
    ///     ufrags of concurrent sessions on one agent apart.
    ///   - passwordLength: At least 22 (132 bits). The default matches Chromium's 24.
    public static func random(ufragLength: Int = 8, passwordLength: Int = 24) -> IceCredentials {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator, ufragLength: ufragLength, passwordLength: passwordLength)
    }

    /// Generates credentials from `generator`; pass a seeded generator for reproducible tests.
    ///
    /// - Precondition: `ufragLength` and `passwordLength` lie within the RFC 8839 bounds.
    public static func random<G: RandomNumberGenerator>(
        using generator: inout G,
        ufragLength: Int = 8,
        passwordLength: Int = 24
    ) -> IceCredentials {
        precondition((minimumUfragLength...maximumLength).contains(ufragLength), "ICE ufrag must be 4 to 256 characters")
        precondition(
            (minimumPasswordLength...maximumLength).contains(passwordLength),
            "ICE password must be 22 to 256 characters"
        )
        let ufrag = randomString(length: ufragLength, using: &generator)
        let password = randomString(length: passwordLength, using: &generator)
        return IceCredentials(unchecked: ufrag, password: password)
    }

    /// Whether `ufrag` is 4 to 256 `ice-char`s.
    public static func isValidUfrag(_ ufrag: String) -> Bool {
        isValid(ufrag, minimumLength: minimumUfragLength)
    }

    /// Whether `password` is 22 to 256 `ice-char`s.
    public static func isValidPassword(_ password: String) -> Bool {
        isValid(password, minimumLength: minimumPasswordLength)
    }

    private static func isValid(_ text: String, minimumLength: Int) -> Bool {
        // ice-char is ASCII, so counting UTF-8 bytes equals counting characters once the
        // alphabet check has passed, and never lets a multi-byte character through.
        (minimumLength...maximumLength).contains(text.utf8.count) && text.utf8.allSatisfy(isIceChar)
    }

    private static func isIceChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    private static func randomString<G: RandomNumberGenerator>(length: Int, using generator: inout G) -> String {
        var text = ""
        text.reserveCapacity(length)
        for _ in 0..<length {
            text.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return text
    }
}
