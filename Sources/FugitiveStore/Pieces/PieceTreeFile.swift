import Foundation
import FugitiveWire

/// A piece tree as a `.tree` file beside its partial resource: `FGPT`, a version byte, the
/// size (8 bytes) and the piece size (4 bytes), big-endian, the root, then every piece
/// hash. Decoding proves the layer against the root again, so a damaged file is no tree.
enum PieceTreeFile {
    static let magic = Array("FGPT".utf8)

    static func encode(_ tree: PieceTree) -> Data {
        var bytes = magic + [1]
        bytes += withUnsafeBytes(of: UInt64(tree.size).bigEndian, Array.init)
        bytes += withUnsafeBytes(of: UInt32(tree.pieceSize).bigEndian, Array.init)
        bytes += tree.root.bytes
        for hash in tree.pieceHashes { bytes += hash.bytes }
        return Data(bytes)
    }

    static func decode(_ data: Data) -> PieceTree? {
        let bytes = [UInt8](data)
        guard bytes.count >= 49, Array(bytes[0..<4]) == magic, bytes[4] == 1 else { return nil }
        let size = bytes[5..<13].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let pieceSize = bytes[13..<17].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let size = Int(exactly: size), let root = ResourceDigest(bytes: bytes[17..<49]), (bytes.count - 49) % 32 == 0 else { return nil }
        let hashes = stride(from: 49, to: bytes.count, by: 32).compactMap { ResourceDigest(bytes: bytes[$0..<$0 + 32]) }
        return PieceTree(pieceHashes: hashes, size: size, pieceSize: Int(pieceSize), root: root)
    }
}
