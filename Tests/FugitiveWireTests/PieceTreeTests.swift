import FugitiveWire
import Testing

/// The piece tree against a plain reading of its definition (every leaf hashed, the layer
/// padded with zero hashes, reduced pair by pair), a known answer, and the checks a
/// downloader relies on: a piece verifies, one flipped byte does not, a lying piece layer
/// does not prove against the root.
@Suite struct PieceTreeTests {
    static let leaf = PieceTree.leafSize

    static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] { ResourceDigest.sha256(of: Array(bytes)).bytes }

    /// The root straight from the definition, over all the leaves at once.
    static func plainRoot(_ bytes: [UInt8]) -> [UInt8] {
        var layer = stride(from: 0, to: bytes.count, by: leaf).map { sha256(bytes[$0..<min(bytes.count, $0 + leaf)]) }
        if layer.isEmpty { layer = [[UInt8](repeating: 0, count: 32)] }
        while layer.count & (layer.count - 1) != 0 { layer.append([UInt8](repeating: 0, count: 32)) }
        while layer.count > 1 { layer = stride(from: 0, to: layer.count, by: 2).map { sha256(layer[$0] + layer[$0 + 1]) } }
        return layer[0]
    }

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    @Test func aKnownAnswer() {
        let bytes = (0..<100_000).map { UInt8($0 % 251) }
        // hashlib, by the definition above.
        #expect(PieceTree(of: bytes, pieceSize: 1 << 20).root.hex == "505fc9a922f60ae071450b07256a4ba760612bffc38c27584ed03fd96c69841b")
        #expect(PieceTree(of: [], pieceSize: 1 << 20).root == PieceTree.zeroHash)
    }

    @Test(arguments: [16_384, 65_536])
    func theRootIsTheDefinitionsWhateverThePieceSize(pieceSize: Int) {
        let sizes = [
            1, 100, Self.leaf - 1, Self.leaf, Self.leaf + 1, 3 * Self.leaf, pieceSize - 1, pieceSize, pieceSize + 1, 5 * pieceSize + 7, 8 * pieceSize,
        ]
        for size in sizes {
            let bytes = Self.bytes(size, seed: UInt64(size))
            let tree = PieceTree(of: bytes, pieceSize: pieceSize)
            #expect(tree.root.bytes == Self.plainRoot(bytes), "size \(size)")
            #expect(tree.pieceHashes.count == PieceTree.pieceCount(size: size, pieceSize: pieceSize), "size \(size)")
            #expect(tree.size == size)
        }
    }

    @Test func slicesOfAnySizeBuildTheSameTree() {
        let bytes = Self.bytes(300_001, seed: 3)
        let whole = PieceTree(of: bytes, pieceSize: 32_768)
        var random = SplitMix64(seed: 4)
        var builder = PieceTree.Builder(pieceSize: 32_768)
        var offset = 0
        while offset < bytes.count {
            let take = min(bytes.count - offset, Int(random.next() % 40_000))
            builder.append(Array(bytes[offset..<offset + take]))
            offset += take
        }
        #expect(builder.finish() == whole)
    }

    @Test func eachPieceVerifiesAndOneFlippedByteDoesNot() {
        let bytes = Self.bytes(5 * 65_536 + 1_000, seed: 5)
        let tree = PieceTree(of: bytes, pieceSize: 65_536)
        #expect(tree.pieceHashes.count == 6)
        for index in tree.pieceHashes.indices {
            var piece = Array(bytes[tree.range(ofPiece: index)])
            #expect(tree.verify(piece: index, piece), "piece \(index)")
            piece[piece.count / 2] ^= 1
            #expect(!tree.verify(piece: index, piece), "piece \(index) with a flipped byte")
        }
        // Another piece's bytes, a short piece, an index past the end.
        #expect(!tree.verify(piece: 1, Array(bytes[tree.range(ofPiece: 2)])))
        #expect(!tree.verify(piece: 0, Array(bytes[0..<1000])))
        #expect(!tree.verify(piece: 6, [1]))
        // A resource of one piece: the piece is the whole tree.
        let small = Array(bytes[0..<40_000])
        let one = PieceTree(of: small, pieceSize: 65_536)
        #expect(one.pieceHashes == [one.root] && one.verify(piece: 0, small))
    }

    @Test func aPieceLayerCountsOnlyWhenItProvesAgainstTheRoot() {
        let bytes = Self.bytes(7 * 16_384 + 5, seed: 6)
        let tree = PieceTree(of: bytes, pieceSize: 16_384)
        let proven = PieceTree(pieceHashes: tree.pieceHashes, size: bytes.count, pieceSize: 16_384, root: tree.root)
        #expect(proven == tree)
        var lying = tree.pieceHashes
        lying[3] = PieceTree.zeroHash
        #expect(PieceTree(pieceHashes: lying, size: bytes.count, pieceSize: 16_384, root: tree.root) == nil)
        #expect(PieceTree(pieceHashes: Array(tree.pieceHashes.dropLast()), size: bytes.count, pieceSize: 16_384, root: tree.root) == nil)
        #expect(PieceTree(pieceHashes: tree.pieceHashes, size: bytes.count, pieceSize: 24_576, root: tree.root) == nil)
        #expect(PieceTree.isValidPieceSize(1 << 20) && !PieceTree.isValidPieceSize(24_576) && !PieceTree.isValidPieceSize(8_192))
    }
}
