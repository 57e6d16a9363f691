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

        /// The SHA-256 of bytes that come in pieces (a transfer read while it arrives).
        public struct Hasher {
            private var hash = SHA256()

            public init() {}

            public mutating func update(_ bytes: UnsafeRawBufferPointer) { hash.update(bufferPointer: bytes) }

            /// The digest of everything given so far.
            public func finalize() -> ResourceDigest { ResourceDigest(bytes: Array(hash.finalize()))! }
        }
    }
#endif
