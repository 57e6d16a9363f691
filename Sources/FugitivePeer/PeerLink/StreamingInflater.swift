import CompressNIO
import FugitiveWire
import NIOCore

/// Inflates a deflated transfer while it arrives, chunk by chunk in order: what comes out
/// goes straight into the resource's bytes and its hash, is charged to the download
/// budget as it is produced, and may never exceed the size the head announced — a
/// decompression bomb stops at its first byte too many, not after the whole transfer.
final class StreamingInflater {
    let contentLength: Int
    private let decompressor: any NIODecompressor
    private var window: ByteBuffer
    private(set) var bytes: [UInt8] = []
    private var hasher = ResourceDigest.Hasher()
    /// The next chunk to feed (earlier ones went through already).
    private(set) var nextChunk = 0

    init(contentLength: Int) throws(PeerLinkError) {
        self.contentLength = contentLength
        decompressor = CompressionAlgorithm.deflate().decompressor
        window = ByteBufferAllocator().buffer(capacity: 64 << 10)
        do { try decompressor.startStream() } catch { throw .violation(.inflateFailed, "cannot start inflating: \(error)") }
    }

    deinit { try? decompressor.finishStream() }

    /// Feeds every chunk `assembler` holds from ``nextChunk`` on, in order, up to the first gap.
    func feed(from assembler: ChunkAssembler, charge: (Int) -> Bool) throws(PeerLinkError) {
        while let data = assembler.chunk(at: nextChunk) {
            try feed(data, charge: charge)
            nextChunk += 1
        }
    }

    /// Feeds the next bytes of the transfer, in order.
    func feed(_ data: ByteBuffer, charge: (Int) -> Bool) throws(PeerLinkError) {
        var input = data
        var full = true
        while full {
            window.clear()
            full = false
            do {
                try decompressor.streamInflate(from: &input, to: &window)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                full = true
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                // All input taken; more output needs more input.
            } catch {
                throw .violation(.inflateFailed, "inflate failed: \(error)")
            }
            let produced = window.readableBytes
            guard produced > 0 else { continue }
            guard bytes.count + produced <= contentLength else {
                throw .violation(.inflateFailed, "inflates beyond the \(contentLength) bytes announced")
            }
            guard charge(produced) else { throw PeerLink.overBudget }
            window.withUnsafeReadableBytes { raw in
                bytes.append(contentsOf: raw)
                hasher.update(raw)
            }
        }
    }

    /// The resource's bytes and digest, once every chunk was fed.
    func finish() throws(PeerLinkError) -> (bytes: [UInt8], digest: ResourceDigest) {
        guard bytes.count == contentLength else {
            throw .violation(.inflateFailed, "inflated to \(bytes.count) bytes, \(contentLength) announced")
        }
        return (bytes, hasher.finalize())
    }
}
