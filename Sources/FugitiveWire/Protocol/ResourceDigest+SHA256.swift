import Crypto
import Foundation

extension ResourceDigest {
    /// The SHA-256 of `bytes`.
    public static func sha256(of bytes: some DataProtocol) -> ResourceDigest {
        ResourceDigest(bytes: Array(SHA256.hash(data: bytes)))!
    }
}
