// The wire fuzzer (Fuzz/) compiles FugitiveWire's sources without swift-crypto; it needs no
// hashing.
#if canImport(Crypto)
    import Crypto
    import Foundation

    extension ResourceDigest {
        /// The SHA-256 of `bytes`.
        public static func sha256(of bytes: some DataProtocol) -> ResourceDigest {
            ResourceDigest(bytes: Array(SHA256.hash(data: bytes)))!
        }
    }
#endif
