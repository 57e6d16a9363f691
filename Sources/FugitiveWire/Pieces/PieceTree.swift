// The wire fuzzer (Fuzz/) compiles FugitiveWire's sources without swift-crypto.
#if canImport(Crypto)
    import Crypto

    /// The piece-tree digest of a resource: a SHA-256 Merkle tree over its bytes in
    /// 16 KiB leaves, the tree BitTorrent v2 (BEP 52) calls a file's "pieces root".
    ///
    /// - A leaf is the SHA-256 of 16 KiB of the resource (the last one may be shorter).
    /// - A node is the SHA-256 of its two children's hashes, left then right.
    /// - The leaf layer is padded to a power of two with zero hashes (32 zero bytes).
    ///
    /// A *piece* is ``pieceSize`` bytes (a power-of-two number of leaves): the unit a
    /// fetch asks a peer for and checks on arrival. Its hash is the root of its leaves'
    /// subtree (the last piece's leaves padded with zero hashes), so the layer of piece
    /// hashes proves against the root, and one bad piece is caught when it arrives, not
    /// after the whole resource. The tree keeps the piece layer only (32 bytes a piece),
    /// never the leaves or the bytes.
    ///
    /// The empty resource's root is 32 zero bytes (one padding leaf).
    public struct PieceTree: Sendable, Hashable {
        /// Bytes of a leaf: 16 KiB.
        public static let leafSize = 16_384
        /// The hash of a padding leaf.
        public static let zeroHash = ResourceDigest(bytes: [UInt8](repeating: 0, count: 32))!

        /// Bytes of a piece (a power-of-two multiple of ``leafSize``).
        public let pieceSize: Int
        /// The resource's size.
        public let size: Int
        /// The hash of every piece, in order.
        public let pieceHashes: [ResourceDigest]
        /// The root: what a trusted source vouches for.
        public let root: ResourceDigest

        /// Whether `pieceSize` is a power-of-two multiple of the leaf size.
        public static func isValidPieceSize(_ pieceSize: Int) -> Bool {
            pieceSize >= leafSize && pieceSize % leafSize == 0 && (pieceSize / leafSize).nonzeroBitCount == 1
        }

        /// The tree of `bytes`, all in memory (tests, small resources); large ones go through
        /// a ``Builder`` as they arrive.
        public init(of bytes: [UInt8], pieceSize: Int) {
            var builder = Builder(pieceSize: pieceSize)
            bytes.withUnsafeBytes { builder.append($0) }
            self = builder.finish()
        }

        /// A tree from a piece layer someone sent; `nil` unless the layer has the count of
        /// pieces `size` takes and proves against `root`.
        public init?(pieceHashes: [ResourceDigest], size: Int, pieceSize: Int, root: ResourceDigest) {
            guard Self.isValidPieceSize(pieceSize), size >= 0, pieceHashes.count == Self.pieceCount(size: size, pieceSize: pieceSize) else {
                return nil
            }
            // One piece (or none) is the whole tree: its hash is the root.
            let proven =
                switch pieceHashes.count {
                case 0: root == Self.zeroHash
                case 1: pieceHashes[0] == root
                default: Self.root(ofPieceLayer: pieceHashes, pieceSize: pieceSize) == root
                }
            guard proven else { return nil }
            self.init(pieceSize: pieceSize, size: size, pieceHashes: pieceHashes, root: root)
        }

        init(pieceSize: Int, size: Int, pieceHashes: [ResourceDigest], root: ResourceDigest) {
            self.pieceSize = pieceSize
            self.size = size
            self.pieceHashes = pieceHashes
            self.root = root
        }

        /// Pieces a resource of `size` bytes takes (the empty one: none).
        public static func pieceCount(size: Int, pieceSize: Int) -> Int { (size + pieceSize - 1) / pieceSize }

        /// The byte range of piece `index`.
        public func range(ofPiece index: Int) -> Range<Int> { index * pieceSize..<min(size, (index + 1) * pieceSize) }

        /// Whether `bytes` are piece `index`.
        public func verify(piece index: Int, _ bytes: some Collection<UInt8>) -> Bool {
            guard pieceHashes.indices.contains(index), bytes.count == range(ofPiece: index).count else { return false }
            var builder = Builder(pieceSize: pieceSize)
            Array(bytes).withUnsafeBytes { builder.append($0) }
            // A lone piece is the whole tree (padded to its own leaves' power of two).
            if pieceHashes.count == 1 { return builder.finish().root == root }
            return builder.pieceHash() == pieceHashes[index]
        }

        /// The root over a piece layer of two pieces or more: pieces padded to a power of two
        /// with the hash of a piece of padding leaves. (A resource of one piece has no layer
        /// to prove: its root is over its own leaves.)
        public static func root(ofPieceLayer hashes: [ResourceDigest], pieceSize: Int) -> ResourceDigest {
            var pad = zeroHash
            for _ in 0..<(pieceSize / leafSize).trailingZeroBitCount { pad = node(pad, pad) }
            return reduce(hashes, padding: pad)
        }

        /// The root of `layer` padded to a power of two with `padding`, whose own padding
        /// one level up is `node(padding, padding)`.
        static func reduce(_ layer: [ResourceDigest], padding: ResourceDigest) -> ResourceDigest {
            guard !layer.isEmpty else { return padding }
            var layer = layer
            var pad = padding
            while layer.count > 1 {
                var up: [ResourceDigest] = []
                up.reserveCapacity((layer.count + 1) / 2)
                var index = 0
                while index < layer.count {
                    up.append(node(layer[index], index + 1 < layer.count ? layer[index + 1] : pad))
                    index += 2
                }
                layer = up
                pad = node(pad, pad)
            }
            return layer[0]
        }

        static func node(_ left: ResourceDigest, _ right: ResourceDigest) -> ResourceDigest {
            var hash = SHA256()
            hash.update(data: left.bytes)
            hash.update(data: right.bytes)
            return ResourceDigest(bytes: Array(hash.finalize()))!
        }
    }
#endif
