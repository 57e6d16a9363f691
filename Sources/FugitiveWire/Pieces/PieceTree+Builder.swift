#if canImport(Crypto)
    import Crypto

    extension PieceTree {
        /// Builds a ``PieceTree`` from a resource's bytes as they arrive, in slices of any
        /// size: what it holds is the piece layer so far and one piece's leaf hashes, never
        /// the bytes.
        public struct Builder {
            public let pieceSize: Int
            /// Bytes appended so far.
            public private(set) var size = 0
            private var leafHash = SHA256()
            private var inLeaf = 0
            /// The current piece's leaf hashes.
            private var leaves: [ResourceDigest] = []
            private var pieces: [ResourceDigest] = []

            /// A builder for pieces of `pieceSize` bytes (see ``PieceTree/isValidPieceSize(_:)``).
            public init(pieceSize: Int) {
                precondition(PieceTree.isValidPieceSize(pieceSize), "a piece is a power-of-two number of 16 KiB leaves")
                self.pieceSize = pieceSize
            }

            private var leavesPerPiece: Int { pieceSize / PieceTree.leafSize }

            public mutating func append(_ bytes: UnsafeRawBufferPointer) {
                var offset = 0
                while offset < bytes.count {
                    let take = min(bytes.count - offset, PieceTree.leafSize - inLeaf)
                    leafHash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
                    (offset, inLeaf, size) = (offset + take, inLeaf + take, size + take)
                    if inLeaf == PieceTree.leafSize { closeLeaf() }
                }
            }

            public mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

            private mutating func closeLeaf() {
                leaves.append(ResourceDigest(bytes: Array(leafHash.finalize()))!)
                (leafHash, inLeaf) = (SHA256(), 0)
                if leaves.count == leavesPerPiece {
                    pieces.append(PieceTree.reduce(leaves, padding: PieceTree.zeroHash))
                    leaves.removeAll(keepingCapacity: true)
                }
            }

            /// The hash of the piece appended since the last full one, its leaves padded to
            /// the piece's count (what a piece of a resource of two pieces or more hashes to).
            func pieceHash() -> ResourceDigest {
                var copy = self
                if copy.inLeaf > 0 { copy.closeLeaf() }
                if let last = copy.pieces.last, copy.leaves.isEmpty { return last }
                let padded = copy.leaves + [ResourceDigest](repeating: PieceTree.zeroHash, count: leavesPerPiece - copy.leaves.count)
                return PieceTree.reduce(padded, padding: PieceTree.zeroHash)
            }

            /// The tree of everything appended.
            public func finish() -> PieceTree {
                var copy = self
                if copy.inLeaf > 0 { copy.closeLeaf() }
                if copy.pieces.isEmpty {
                    // At most a part of one piece: the tree over its own leaves.
                    let root = PieceTree.reduce(copy.leaves, padding: PieceTree.zeroHash)
                    return PieceTree(pieceSize: pieceSize, size: size, pieceHashes: copy.leaves.isEmpty ? [] : [root], root: root)
                }
                if !copy.leaves.isEmpty {
                    let padded = copy.leaves + [ResourceDigest](repeating: PieceTree.zeroHash, count: leavesPerPiece - copy.leaves.count)
                    copy.pieces.append(PieceTree.reduce(padded, padding: PieceTree.zeroHash))
                }
                let root = copy.pieces.count == 1 ? copy.pieces[0] : PieceTree.root(ofPieceLayer: copy.pieces, pieceSize: pieceSize)
                return PieceTree(pieceSize: pieceSize, size: size, pieceHashes: copy.pieces, root: root)
            }
        }
    }
#endif
