import FugitiveRTC
import FugitiveTestSupport
import Testing

@Suite("Fingerprint, SetupRole and IceCredentials")
struct DTLSParameterTests {
    @Test func fingerprintParsesEitherCaseAndWritesUppercase() throws {
        let lower = try #require(Fingerprint(sdpValue: "SHA-256 " + Fixtures.chromiumFingerprintHex.lowercased()))
        #expect(lower.sdpValue == "sha-256 \(Fixtures.chromiumFingerprintHex)")
        #expect(lower.hexString == Fixtures.chromiumFingerprintHex)
        #expect(lower == Fixtures.fingerprint(Fixtures.chromiumFingerprintHex))
        #expect(lower.bytes.count == 32)
    }

    @Test func fingerprintFromBytes() throws {
        let fingerprint = try #require(Fingerprint(bytes: (0..<32).map { UInt8($0 * 8) }))
        #expect(fingerprint.hexString.hasPrefix("00:08:10:18:"))
        #expect(fingerprint.hexString.hasSuffix(":F8"))
        #expect(Fingerprint(sdpValue: fingerprint.sdpValue) == fingerprint)
        #expect(Fingerprint(bytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(Fingerprint(bytes: [UInt8](repeating: 1, count: 33)) == nil)
    }

    @Test(arguments: [
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
        "sha-256",
        "sha-256 " + String(Fixtures.chromiumFingerprintHex.dropLast(3)),
        "sha-256 " + Fixtures.chromiumFingerprintHex.replacingFirstByte(with: "+1"),
        "sha-256 " + Fixtures.chromiumFingerprintHex.replacingFirstByte(with: "G0"),
        "sha-256 " + Fixtures.chromiumFingerprintHex + ":",
        "sha-256 " + Fixtures.chromiumFingerprintHex + " extra",
    ])
    func invalidFingerprintsAreNil(_ value: String) {
        #expect(Fingerprint(sdpValue: value) == nil)
    }

    @Test(arguments: [
        (SetupRole.actpass, SetupRole.active),
        (.active, .passive),
        (.passive, .active),
        (.holdconn, .holdconn),
    ])
    func answeringRoleTable(_ remote: SetupRole, _ expected: SetupRole) {
        #expect(SetupRole.answering(to: remote) == expected)
    }

    @Test func answeringNeverLeavesTheDTLSRoleOpenAndComplementsTheRemote() {
        for remote in [SetupRole.actpass, .active, .passive] {
            let local = SetupRole.answering(to: remote)
            let role = local.dtlsRole
            #expect(role != nil)
            if let remoteRole = remote.dtlsRole {
                #expect(role != remoteRole)
            }
        }
    }

    @Test func dtlsRoles() {
        #expect(SetupRole.active.dtlsRole == .client)
        #expect(SetupRole.passive.dtlsRole == .server)
        #expect(SetupRole.actpass.dtlsRole == nil)
        #expect(SetupRole.holdconn.dtlsRole == nil)
        #expect(DTLSRole.client.setupRole == .active)
        #expect(DTLSRole.server.setupRole == .passive)
    }

    @Test func generatedCredentialsHaveValidLengthsAndCharacters() throws {
        let alphabet = Set(IceCredentials.alphabet)
        #expect(alphabet.count == 64)
        for _ in 0..<50 {
            let credentials = IceCredentials.random()
            #expect(credentials.ufrag.count == 8)
            #expect(credentials.password.count == 24)
            #expect(credentials.ufrag.allSatisfy(alphabet.contains))
            #expect(credentials.password.allSatisfy(alphabet.contains))
            #expect(IceCredentials(ufrag: credentials.ufrag, password: credentials.password) == credentials)
        }
        var generator = SplitMix64(seed: 1)
        let minimal = IceCredentials.random(using: &generator, ufragLength: 4, passwordLength: 22)
        #expect(minimal.ufrag.count == 4 && minimal.password.count == 22)
        #expect(IceCredentials.isValidUfrag(minimal.ufrag) && IceCredentials.isValidPassword(minimal.password))
    }

    @Test func seededGenerationIsDeterministic() {
        var first = SplitMix64(seed: 0xF00D)
        var second = SplitMix64(seed: 0xF00D)
        var other = SplitMix64(seed: 0xBEEF)
        let a = IceCredentials.random(using: &first)
        let b = IceCredentials.random(using: &second)
        let c = IceCredentials.random(using: &other)
        #expect(a == b)
        #expect(a != c)
        // The generator advances: the next draw differs from the first.
        #expect(IceCredentials.random(using: &first) != a)
    }

    @Test func generationUsesTheWholeAlphabet() {
        var generator = SplitMix64(seed: 99)
        var seen = Set<Character>()
        for _ in 0..<400 {
            seen.formUnion(IceCredentials.random(using: &generator).password)
        }
        #expect(seen == Set(IceCredentials.alphabet))
    }

    @Test(arguments: [
        ("abcd", "abcdefghijklmnopqrstuv", true),
        ("abc", "abcdefghijklmnopqrstuv", false),
        ("abcd", "abcdefghijklmnopqrstu", false),
        ("ab+/", "ABCDEFGHIJKLMNOPQRSTU/", true),
        ("ab-d", "abcdefghijklmnopqrstuv", false),
        ("abcd", "abcdefghijklmnopqrstuvé", false),
        (String(repeating: "a", count: 257), "abcdefghijklmnopqrstuv", false),
    ])
    func credentialValidation(_ ufrag: String, _ password: String, _ valid: Bool) {
        #expect((IceCredentials(ufrag: ufrag, password: password) != nil) == valid)
    }
}

extension String {
    /// The colon-separated hex with its first byte replaced by `byte`.
    fileprivate func replacingFirstByte(with byte: String) -> String {
        byte + dropFirst(2)
    }
}
