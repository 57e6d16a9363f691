import COpenSSL
import CFugitiveRTCShim

/// The certificate and key a peer proves itself with in DTLS: ECDSA P-256, self-signed,
/// as WebRTC uses them. Its SHA-256 ``fingerprint`` goes into the local SDP; the remote
/// side checks the certificate it receives against it.
///
/// Generating one takes about a millisecond; a peer may keep one for all its
/// connections (browsers do, per origin).
public final class DTLSCertificate: @unchecked Sendable {
    // Immutable after init and only read by OpenSSL (which takes its own references
    // when a context uses them): safe to share.
    let key: OpaquePointer
    let x509: OpaquePointer
    /// The SHA-256 fingerprint of the certificate's DER encoding.
    public let fingerprint: Fingerprint

    /// Generates a fresh key pair and a self-signed certificate valid for `days`.
    public convenience init(commonName: String = "fugitive", days: Int = 30) throws(RTCError) {
        guard let key = fugitive_ec_p256_key() else { throw Self.failure("cannot generate a P-256 key") }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw Self.failure("cannot allocate a certificate")
        }
        let serial = UInt64.random(in: 1...UInt64(Int64.max))
        let signed =
            X509_set_version(x509, 2) == 1
            && ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial) == 1
            // An hour back, for clocks that disagree a little.
            && X509_gmtime_adj(X509_getm_notBefore(x509), -3600) != nil
            && X509_gmtime_adj(X509_getm_notAfter(x509), days * 86_400) != nil
            && X509_set_pubkey(x509, key) == 1
            && X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
            && X509_set_issuer_name(x509, X509_get_subject_name(x509)) == 1
            && X509_sign(x509, key, EVP_sha256()) > 0
        guard signed else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw Self.failure("cannot sign the certificate")
        }
        try self.init(taking: key, x509)
    }

    /// Loads a certificate and its private key from PEM text.
    public convenience init(certificatePEM: String, privateKeyPEM: String) throws(RTCError) {
        guard let x509 = Self.readPEM(certificatePEM, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw Self.failure("cannot read the certificate PEM")
        }
        guard let key = Self.readPEM(privateKeyPEM, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            X509_free(x509)
            throw Self.failure("cannot read the private key PEM")
        }
        guard X509_check_private_key(x509, key) == 1 else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw Self.failure("the private key does not belong to the certificate")
        }
        try self.init(taking: key, x509)
    }

    /// Takes ownership of `key` and `x509`.
    private init(taking key: OpaquePointer, _ x509: OpaquePointer) throws(RTCError) {
        self.key = key
        self.x509 = x509
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1,
            let fingerprint = Fingerprint(bytes: Array(digest.prefix(Int(length))))
        else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw Self.failure("cannot digest the certificate")
        }
        self.fingerprint = fingerprint
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(key)
    }

    /// The certificate as PEM text.
    public var certificatePEM: String { Self.writePEM { PEM_write_bio_X509($0, x509) } }

    /// The private key as (unencrypted) PKCS #8 PEM text.
    public var privateKeyPEM: String { Self.writePEM { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) } }

    private static func readPEM(_ text: String, _ read: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
    }

    private static func writePEM(_ write: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { return "" }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let count = BIO_read(bio, &bytes, Int32(bytes.count))
        return String(decoding: bytes.prefix(Int(max(0, count))), as: UTF8.self)
    }

    static func failure(_ message: String) -> RTCError {
        RTCError(.certificate, "\(message)\(OpenSSLErrors.drain())")
    }
}

/// OpenSSL's thread-local error queue, read and emptied.
enum OpenSSLErrors {
    /// The queued errors as `: reason; reason`, or "" when none; the queue is emptied.
    static func drain() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")
    }
}
