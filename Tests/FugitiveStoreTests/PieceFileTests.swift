import Foundation
import FugitiveStore
import FugitiveWire
import Testing

/// A large resource written piece by piece on disk: pieces in any order, a lying piece
/// refused, a process that dies mid-write resuming with what verifies (and not with a
/// mark whose bytes never reached the disk), and the whole made only when the flat
/// SHA-256 agrees.
@Suite struct PieceFileTests {
    static let pieceSize = 65_536

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-pieces-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func piecesInAnyOrderMakeTheWholeAndALyingPieceIsRefused() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = Self.bytes(5 * Self.pieceSize + 123, seed: 1)
        let tree = PieceTree(of: body, pieceSize: Self.pieceSize)
        let file = try PieceFile(directory: directory, digest: .sha256(of: body), tree: tree)
        #expect(file.missingPieces == Array(0..<6))
        var lie = Array(body[tree.range(ofPiece: 2)])
        lie[7] ^= 0x40
        #expect(try !file.write(piece: 2, lie))
        #expect(!file.has(piece: 2))
        for index in [5, 0, 3, 2, 4] { #expect(try file.write(piece: index, Array(body[tree.range(ofPiece: index)]))) }
        #expect(file.missingPieces == [1] && !file.isComplete)
        #expect(try file.read(piece: 3) == Array(body[tree.range(ofPiece: 3)]))
        #expect(try file.read(piece: 1) == nil)
        #expect(throws: StoreError.self) { try file.finish() }
        #expect(try file.write(piece: 1, Array(body[tree.range(ofPiece: 1)])))
        let whole = try file.finish()
        #expect(try [UInt8](Data(contentsOf: whole)) == body)
        // Only the whole resource is left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [ResourceDigest.sha256(of: body).hex])
    }

    @Test func aResumeKeepsThePiecesThatStillVerify() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = Self.bytes(4 * Self.pieceSize, seed: 2)
        let (digest, tree) = (ResourceDigest.sha256(of: body), PieceTree(of: body, pieceSize: Self.pieceSize))
        do {
            let first = try PieceFile(directory: directory, digest: digest, tree: tree)
            for index in [0, 1, 3] { #expect(try first.write(piece: index, Array(body[tree.range(ofPiece: index)]))) }
        }
        // A mark whose bytes did not reach the disk: piece 1 is zeros in the file again.
        let handle = try FileHandle(forWritingTo: directory.appendingPathComponent(digest.hex + ".partial"))
        try handle.seek(toOffset: UInt64(tree.range(ofPiece: 1).lowerBound))
        try handle.write(contentsOf: Data(count: 100))
        try handle.close()

        let again = try PieceFile(directory: directory, digest: digest, tree: tree)
        #expect(again.missingPieces == [1, 2])
        for index in again.missingPieces { #expect(try again.write(piece: index, Array(body[tree.range(ofPiece: index)]))) }
        #expect(try [UInt8](Data(contentsOf: again.finish())) == body)
    }

    @Test func anotherTreeForTheSameDigestStartsAfresh() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = Self.bytes(3 * Self.pieceSize, seed: 3)
        let digest = ResourceDigest.sha256(of: body)
        let small = PieceTree(of: body, pieceSize: Self.pieceSize)
        do { _ = try PieceFile(directory: directory, digest: digest, tree: small).write(piece: 0, Array(body[small.range(ofPiece: 0)])) }
        let large = PieceTree(of: body, pieceSize: 4 * Self.pieceSize)
        let again = try PieceFile(directory: directory, digest: digest, tree: large)
        #expect(again.missingPieces == [0])
    }

    @Test func piecesThatMatchTheTreeButNotTheDigestAreNeverMadeWhole() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The tree a liar vouched for, under the digest of other bytes.
        let (body, other) = (Self.bytes(2 * Self.pieceSize, seed: 4), Self.bytes(2 * Self.pieceSize, seed: 5))
        let tree = PieceTree(of: body, pieceSize: Self.pieceSize)
        let file = try PieceFile(directory: directory, digest: .sha256(of: other), tree: tree)
        for index in 0..<2 { #expect(try file.write(piece: index, Array(body[tree.range(ofPiece: index)]))) }
        #expect { try file.finish() } throws: { ($0 as? StoreError)?.code == .digestMismatch }
        #expect(!FileManager.default.fileExists(atPath: file.completeURL.path))
    }
}
