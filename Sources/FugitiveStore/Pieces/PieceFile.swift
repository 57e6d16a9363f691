import Foundation
import FugitiveWire
import Synchronization

/// A large resource on disk while its pieces arrive — in any order, from several sources —
/// and once it is whole: content-addressed files beside the store's database, never the
/// bytes in memory.
///
/// Files, not SQLite blobs, because a resource of gigabytes is written at offsets while
/// other pieces of it are read and served, and made whole by one atomic rename; SQLite's
/// incremental blob I/O would hold a write transaction open for the whole transfer.
///
/// In `directory`, for a digest `d`:
/// - `d.partial`: the resource's bytes so far, at their offsets (the size preallocated);
/// - `d.tree`: the piece tree it is checked against (size, piece size, root, piece hashes);
/// - `d.pieces`: one bit per piece written and verified, replaced atomically (rename).
///
/// A piece is written only when it hashes to its piece hash, then marked. After a crash,
/// every marked piece is hashed again when the file is reopened: a mark whose bytes did
/// not reach the disk is dropped, so a partial resource is never taken for whole. When the
/// last piece is in, ``finish()`` checks the flat SHA-256 of the whole file against the
/// digest and only then renames `d.partial` to `d`, the whole resource.
public final class PieceFile: Sendable {
    public let digest: ResourceDigest
    public let tree: PieceTree
    /// Where the whole resource lands.
    public let completeURL: URL
    let partialURL: URL
    let treeURL: URL
    let bitmapURL: URL
    private let descriptor: Int32
    private let state: Mutex<[Bool]>

    /// Opens the partial file of `digest` in `directory`, or creates it for `tree`. A
    /// partial file left by an earlier process resumes with the pieces that still verify.
    public init(directory: URL, digest: ResourceDigest, tree: PieceTree) throws(StoreError) {
        self.digest = digest
        self.tree = tree
        completeURL = directory.appendingPathComponent(digest.hex)
        partialURL = directory.appendingPathComponent(digest.hex + ".partial")
        treeURL = directory.appendingPathComponent(digest.hex + ".tree")
        bitmapURL = directory.appendingPathComponent(digest.hex + ".pieces")
        let resuming = (try? Data(contentsOf: treeURL)).flatMap(PieceTreeFile.decode) == tree
        if !resuming {
            for url in [partialURL, bitmapURL] { try? FileManager.default.removeItem(at: url) }
            do { try PieceTreeFile.encode(tree).write(to: treeURL, options: .atomic) } catch {
                throw StoreError(.writeFailed, "cannot write \(treeURL.path): \(error)")
            }
        }
        descriptor = open(partialURL.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError(.openFailed, "cannot open \(partialURL.path): errno \(errno)") }
        guard ftruncate(descriptor, off_t(tree.size)) == 0 else {
            let failure = errno
            close(descriptor)
            throw StoreError(.writeFailed, "cannot size \(partialURL.path) to \(tree.size) bytes: errno \(failure)")
        }
        var marked = [Bool](repeating: false, count: tree.pieceHashes.count)
        if resuming, let saved = try? Data(contentsOf: bitmapURL) {
            marked = PieceBitmap.decode(Array(saved), count: marked.count)
        }
        state = Mutex(marked)
        // Marks are trusted only as far as the bytes behind them still verify.
        for index in marked.indices where marked[index] {
            let verified = (try? readPiece(index)).map { tree.verify(piece: index, $0) } ?? false
            if !verified { state.withLock { $0[index] = false } }
        }
    }

    deinit { close(descriptor) }

    /// Pieces not written yet, in order.
    public var missingPieces: [Int] { state.withLock { marks in marks.indices.filter { !marks[$0] } } }

    /// Whether piece `index` is written and verified.
    public func has(piece index: Int) -> Bool { state.withLock { $0.indices.contains(index) && $0[index] } }

    /// Every piece is in.
    public var isComplete: Bool { state.withLock { !$0.contains(false) } }

    /// Writes piece `index` if `bytes` are that piece; false (nothing written) when they
    /// are not — the caller penalises whoever sent them.
    public func write(piece index: Int, _ bytes: [UInt8]) throws(StoreError) -> Bool {
        guard tree.verify(piece: index, bytes) else { return false }
        let offset = tree.range(ofPiece: index).lowerBound
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count else { throw StoreError(.writeFailed, "piece \(index) of \(digest): wrote \(written) of \(bytes.count) bytes") }
        let bitmap = state.withLock { marks in
            marks[index] = true
            return PieceBitmap.encode(marks)
        }
        do { try Data(bitmap).write(to: bitmapURL, options: .atomic) } catch {
            throw StoreError(.writeFailed, "cannot record piece \(index) of \(digest): \(error)")
        }
        return true
    }

    /// Piece `index`'s bytes, once written.
    public func read(piece index: Int) throws(StoreError) -> [UInt8]? {
        guard has(piece: index) else { return nil }
        return try readPiece(index)
    }

    private func readPiece(_ index: Int) throws(StoreError) -> [UInt8] {
        let range = tree.range(ofPiece: index)
        var bytes = [UInt8](repeating: 0, count: range.count)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(range.lowerBound)) }
        guard read == range.count else { throw StoreError(.readFailed, "piece \(index) of \(digest): read \(read) of \(range.count) bytes") }
        return bytes
    }

    /// Makes the resource whole: with every piece in, the flat SHA-256 of the file must be
    /// the digest; then `d.partial` becomes `d` and the tree and marks go. Returns where
    /// the whole resource is.
    public func finish() throws(StoreError) -> URL {
        guard isComplete else { throw StoreError(.writeFailed, "\(missingPieces.count) pieces of \(digest) are missing") }
        var hasher = ResourceDigest.Hasher()
        let step = 1 << 20
        var buffer = [UInt8](repeating: 0, count: step)
        var offset = 0
        while offset < tree.size {
            let count = min(step, tree.size - offset)
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
            guard read == count else { throw StoreError(.readFailed, "\(digest) at \(offset): read \(read) of \(count) bytes") }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += count
        }
        let found = hasher.finalize()
        guard found == digest else {
            throw StoreError(.digestMismatch, "the pieces verify against the tree, but the whole hashes to \(found), not \(digest)")
        }
        guard fsync(descriptor) == 0, rename(partialURL.path, completeURL.path) == 0 else {
            throw StoreError(.writeFailed, "cannot make \(completeURL.path) whole: errno \(errno)")
        }
        for url in [treeURL, bitmapURL] { try? FileManager.default.removeItem(at: url) }
        return completeURL
    }
}

/// One bit a piece, lowest bit first.
enum PieceBitmap {
    static func encode(_ marks: [Bool]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (marks.count + 7) / 8)
        for index in marks.indices where marks[index] { bytes[index / 8] |= 1 << UInt8(index % 8) }
        return bytes
    }

    /// Marks for `count` pieces; missing or short data marks nothing.
    static func decode(_ bytes: [UInt8], count: Int) -> [Bool] {
        (0..<count).map { index in index / 8 < bytes.count && bytes[index / 8] & (1 << UInt8(index % 8)) != 0 }
    }
}
